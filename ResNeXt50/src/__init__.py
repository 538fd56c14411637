"""ResNeXt: networks, recipes and the family object that ResNeXt50's entry points hand to the shared engine
(`zoo_core`). Installed as the package `zoo_resnext`."""
