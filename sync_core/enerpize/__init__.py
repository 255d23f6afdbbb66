"""Enerpize (Daftra-family api2): the documents the sync creates and the adapter that creates them."""
