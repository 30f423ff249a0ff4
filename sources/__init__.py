"""Model and data loading: HF, timm, plain torch and packaged models, labelled datasets, preprocessing."""
