-- tour.lua - the default demo: runs on built-in data, no files needed.
print(string.format("llfc %s: an interactive lab for linear mode connectivity", llfc.version))
print("interpolation convention: theta_alpha = alpha*A + (1-alpha)*B (alpha=1 is A)")
