namespace Gadget;

/// <summary>One object Install-Gadget applied or Uninstall-Gadget deleted.</summary>
public sealed class GadgetObject(string kind, string? ns, string name, string action)
{
    public string Kind { get; } = kind;

    /// <summary>Null for cluster-wide objects.</summary>
    public string? Namespace { get; } = ns;

    public string Name { get; } = name;

    /// <summary>What happened: Created, Configured, Unchanged, Deleted, NotFound.</summary>
    public string Action { get; } = action;

    public override string ToString() => Namespace is null ? $"{Kind}/{Name}" : $"{Kind} {Namespace}/{Name}";
}
