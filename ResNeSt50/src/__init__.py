"""ResNeSt: networks, recipes and the family object that ResNeSt50's entry points hand to the shared engine
(`zoo_core`). Installed as the package `zoo_resnest`."""
