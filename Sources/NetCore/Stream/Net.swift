/// Node's `net` module: factory functions for servers and connections.
public enum Net {}
