"""Built-in backend plugins; each is found through the ``ember.backends`` entry points."""
