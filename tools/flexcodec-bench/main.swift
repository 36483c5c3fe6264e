print("flexcodec-bench: not written yet")
