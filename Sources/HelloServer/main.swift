import Glibc
import NetCoreTools

exit(HelloServerProgram.main(Array(CommandLine.arguments.dropFirst())))
