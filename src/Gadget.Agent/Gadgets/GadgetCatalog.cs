namespace Gadget.Agent.Gadgets;

/// <summary>The gadgets this agent carries.</summary>
internal sealed class GadgetCatalog
{
    private readonly Dictionary<string, GadgetDefinition> _gadgets;

    public GadgetCatalog(IEnumerable<GadgetDefinition> gadgets)
        => _gadgets = gadgets.ToDictionary(g => g.Name, StringComparer.OrdinalIgnoreCase);

    public static GadgetCatalog Default { get; } = new([new ExecGadget(), new OpenGadget(), new Dns.DnsGadget(), new FloodGadget()]);

    public IEnumerable<GadgetDefinition> All => _gadgets.Values.OrderBy(g => g.Name, StringComparer.Ordinal);

    public bool TryGet(string name, out GadgetDefinition gadget) => _gadgets.TryGetValue(name, out gadget!);

    /// <summary>The compiled BPF object embedded in the agent.</summary>
    public static byte[] ReadObject(GadgetDefinition gadget)
    {
        using Stream stream = typeof(GadgetCatalog).Assembly.GetManifestResourceStream(gadget.ObjectResource)
            ?? throw new InvalidOperationException($"The agent was built without '{gadget.ObjectResource}'.");
        byte[] bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }
}
