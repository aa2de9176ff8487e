extension Socket {
    /// Whether `writableLength + extra` is below `writableHighWaterMark`: what `write()` would answer with `extra`
    /// more bytes queued. For layers that hold output of their own before handing it over (an HTTP response's cork);
    /// one call instead of reading two properties from another module, each behind a dynamic exclusivity check.
    public final func isBelowHighWaterMark(adding extra: Int) -> Bool {
        writableLength + extra < writableHighWaterMark
    }
}
