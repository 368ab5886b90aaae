import CAMRuntime
