namespace Gadget;

/// <summary>
/// A file open (gadget <c>open</c>): open, openat, openat2 or creat. Its fields are generated from
/// the gadget's BTF (OpenEvent.g.cs); these read them the way people do.
/// </summary>
public sealed partial class OpenEvent
{
    private const uint AccessModeMask = 3;

    /// <summary>
    /// Permission bits of a created file in octal, as chmod and ls -l's users write them (0644);
    /// null unless O_CREAT or O_TMPFILE. The process's umask applies after.
    /// </summary>
    public string? Mode => (Flags & (OpenFlags.O_CREAT | OpenFlags.O_TMPFILE)) != 0
        ? "0" + Convert.ToString((int)ModeBits & 0xfff, 8).PadLeft(3, '0')
        : null;

    /// <summary>Read, Write or ReadWrite, from the flags' access mode.</summary>
    [Newtonsoft.Json.JsonIgnore]
    public new FileAccess Access => ((uint)Flags & AccessModeMask) switch
    {
        1 => FileAccess.Write,
        2 => FileAccess.ReadWrite,
        _ => FileAccess.Read,
    };

    /// <summary>The flags as the kernel headers spell them: O_WRONLY|O_CREAT|O_TRUNC.</summary>
    public string FlagsText
    {
        get
        {
            string access = (Flags & (OpenFlags)AccessModeMask) switch
            {
                OpenFlags.O_WRONLY => "O_WRONLY",
                OpenFlags.O_RDWR => "O_RDWR",
                _ => "O_RDONLY",
            };
            OpenFlags rest = Flags & ~(OpenFlags)AccessModeMask;
            return rest == 0 ? access : access + "|" + rest.ToString().Replace(", ", "|", StringComparison.Ordinal);
        }
    }
}
