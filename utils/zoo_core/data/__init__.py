"""Input data: ImageFolder pipelines, augmentation policies, image-file rules and the built-in demo dataset."""
