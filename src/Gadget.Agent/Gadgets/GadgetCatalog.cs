using System.Text;
using Gadget.Schema;

namespace Gadget.Agent.Gadgets;

/// <summary>
/// The gadgets this agent carries: every <c>bpf/&lt;name&gt;.bpf.o</c> embedded at build time, with
/// its <c>bpf/&lt;name&gt;.gadget.yaml</c> and, for the few gadgets that need one, a hook.
/// </summary>
internal sealed class GadgetCatalog
{
    private const string ResourcePrefix = "bpf/";
    private const string ObjectSuffix = ".bpf.o";
    private const string MetadataSuffix = ".gadget.yaml";

    private readonly Dictionary<string, GadgetDefinition> _gadgets;

    public GadgetCatalog(IEnumerable<GadgetDefinition> gadgets)
        => _gadgets = gadgets.ToDictionary(g => g.Name, StringComparer.OrdinalIgnoreCase);

    public static GadgetCatalog Default { get; } = ReadDefault();

    public IEnumerable<GadgetDefinition> All => _gadgets.Values.OrderBy(g => g.Name, StringComparer.Ordinal);

    public bool TryGet(string name, out GadgetDefinition gadget) => _gadgets.TryGetValue(name, out gadget!);

    /// <summary>The hooks of the gadgets that need more than their BTF and gadget.yaml.</summary>
    private static GadgetHook? HookFor(string name) => name switch
    {
        "exec" => new ExecGadget(),
        "open" => new OpenGadget(),
        "dns" => new Dns.DnsGadget(),
        "top_file" => new TopFileGadget(),
        "socket" => new SocketGadget(),
        _ => null,
    };

    private static GadgetCatalog ReadDefault()
    {
        var catalog = new GadgetCatalog(ReadEmbedded());

        // Reading the objects' BTF made a few MiB of garbage an idle agent would otherwise keep.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        return catalog;
    }

    private static List<GadgetDefinition> ReadEmbedded()
    {
        var gadgets = new List<GadgetDefinition>();
        var assembly = typeof(GadgetCatalog).Assembly;
        foreach (string resource in assembly.GetManifestResourceNames().Where(r => r.StartsWith(ResourcePrefix, StringComparison.Ordinal) && r.EndsWith(ObjectSuffix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            string name = resource[ResourcePrefix.Length..^ObjectSuffix.Length];
            byte[]? yaml = Read(ResourcePrefix + name + MetadataSuffix);
            GadgetMetadata metadata = yaml is null ? GadgetMetadata.Empty : GadgetMetadata.Parse(Encoding.UTF8.GetString(yaml));
            gadgets.Add(new GadgetDefinition(name, () => Read(resource)!, metadata, HookFor(name)));
        }

        return gadgets;

        byte[]? Read(string resource)
        {
            using Stream? stream = assembly.GetManifestResourceStream(resource);
            if (stream is null)
            {
                return null;
            }

            byte[] bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
            return bytes;
        }
    }
}
