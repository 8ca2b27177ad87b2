"""Pure-Python core of landcover-cnn: no ``qgis`` import anywhere below this package.

Heavy libraries (TensorFlow, Keras, pandas, scikit-learn) are imported inside the
functions that need them, so that importing a core module stays cheap and safe.
"""
