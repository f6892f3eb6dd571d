"""Visualizers for the ezv2-lite course (plotly, graphviz, ipywidgets).

They take plain data from the `ezv2_lite` package (a search-tree export, a
batch of targets, training events) and return figures or widgets; they hold
no algorithm. The search-tree drawing arrives with the search.
"""
