namespace Gadget;

/// <summary>
/// A capability check (gadget <c>capabilities</c>). Its fields are generated from the gadget's BTF
/// (CapabilitiesEvent.g.cs); this reads the verdict the way the table shows it.
/// </summary>
public sealed partial class CapabilitiesEvent
{
    /// <summary>Allow when the kernel granted the capability, Deny when it refused it.</summary>
    public string Verdict => Granted ? "Allow" : "Deny";
}
