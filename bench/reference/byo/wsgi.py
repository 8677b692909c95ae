import predictor as myapp

# This is just a simple wrapper for gunicorn to find your app (as in the BYO example).
app = myapp.app
