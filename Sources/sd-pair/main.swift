import CSupport

// Top-level code in an Embedded build would make globals; everything runs inside `CommandLineTool.run`.
exit(CommandLineTool.run(Arguments.fromProcess()).rawValue)
