//! Image-side API actions (owned by the image-service engineer; placeholder).
