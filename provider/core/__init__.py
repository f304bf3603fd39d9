"""The core: what a webhook is, needing neither Pulumi nor HTTP.

The model and its one normalisation (:mod:`.model`, :mod:`.bag`, :mod:`.ownership`), the rules
a declaration must meet (:mod:`.rules`), the documented payload fields (:mod:`.payload`), the
error types (:mod:`.errors`), declarations read in layers and validated (:mod:`.layers`,
:mod:`.declarations`) and the validation memo (:mod:`.memo`). It imports nothing from the
other rooms of the package (an import-linter contract keeps it so).
"""
