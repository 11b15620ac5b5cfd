"""functions-framework sources for the cold-start bench: each file is one deployable
function, from the bare framework up to the backend's own ``me``."""
