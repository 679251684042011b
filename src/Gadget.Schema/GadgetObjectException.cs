namespace Gadget.Schema;

/// <summary>
/// The object is not a BPF object this library can describe: malformed ELF or BTF, or a marker
/// that names something the object does not contain. The message says what is wrong.
/// </summary>
public sealed class GadgetObjectException : Exception
{
    public GadgetObjectException(string message)
        : base(message)
    {
    }

    public GadgetObjectException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
