import Glibc
import NetCoreTools

exit(CookieServerProgram.main(Array(CommandLine.arguments.dropFirst())))
