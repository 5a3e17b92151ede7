"""ferdesk's training workbench: read, clean, look at, augment, train, evaluate and export.

Run ``python -m training --help`` from the repository root. Every step reads faces through
``ferdesk.vision.imageio.load_image`` and ``ferdesk.vision.preprocess.preprocess_face``, the same
two functions the app uses.
"""
