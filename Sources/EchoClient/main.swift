import Glibc
import NetCoreTools

exit(EchoClientProgram.main(Array(CommandLine.arguments.dropFirst())))
