"""ferdesk's vision core: image reading, face detection, preprocessing, classification.

Plain Python with no Qt import (a test enforces it), so the pipeline is testable and reusable
outside the desktop app.
"""
