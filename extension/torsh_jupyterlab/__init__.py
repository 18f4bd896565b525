"""torsh-jupyterlab: the prebuilt JupyterLab extension for torsh (the TypeScript is in ../src)."""
__version__ = "0.1.0"


def _jupyter_labextension_paths():
    # where `jupyter labextension develop` finds the build; a wheel install uses shared-data instead
    return [{"src": "labextension", "dest": "torsh-jupyterlab"}]
