"""`barenet serve`: the drawing page and REST API (app), the model behind it (predictor), request limits."""
