"""Lift notebook cells into functions: IPython syntax by kind, a plan from the dataflow, libcst builders."""
