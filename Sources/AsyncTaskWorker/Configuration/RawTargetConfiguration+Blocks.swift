import AsyncTaskTargets

extension RawTargetConfiguration {
    /// `backoff`, empty until a key of it is written: the key table's settings write through key paths, and a
    /// key path cannot write through an optional.
    var backoffBlock: RawBackoff {
        get { backoff ?? RawBackoff() }
        set { backoff = newValue }
    }

    /// `tls`, empty until a key of it is written (see ``backoffBlock``).
    var tlsBlock: RawTLS {
        get { tls ?? RawTLS() }
        set { tls = newValue }
    }

    /// `ordering`, empty until a key of it is written (see ``backoffBlock``).
    var orderingBlock: RawOrdering {
        get { ordering ?? RawOrdering() }
        set { ordering = newValue }
    }

    /// `circuit`, empty until a key of it is written (see ``backoffBlock``): a written key turns the breaker on.
    var circuitBlock: RawCircuit {
        get { circuit ?? RawCircuit() }
        set { circuit = newValue }
    }
}
