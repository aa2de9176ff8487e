import Glibc
import NetCoreTools

exit(ChatServerProgram.main(Array(CommandLine.arguments.dropFirst())))
