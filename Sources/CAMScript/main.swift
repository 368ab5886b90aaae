import CAMRuntime
print("camscript")
