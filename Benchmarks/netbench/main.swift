print("netbench: not built yet")
