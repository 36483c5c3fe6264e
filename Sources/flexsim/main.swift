print("flexsim")
