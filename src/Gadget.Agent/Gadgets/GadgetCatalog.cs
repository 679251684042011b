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

    public static GadgetCatalog Default { get; } = new(ReadEmbedded());

    public IEnumerable<GadgetDefinition> All => _gadgets.Values.OrderBy(g => g.Name, StringComparer.Ordinal);

    public bool TryGet(string name, out GadgetDefinition gadget) => _gadgets.TryGetValue(name, out gadget!);

    /// <summary>The hooks of the gadgets that need more than their BTF and gadget.yaml.</summary>
    private static GadgetHook? HookFor(string name) => name switch
    {
        "exec" => new ExecGadget(),
        "open" => new OpenGadget(),
        "dns" => new Dns.DnsGadget(),
        _ => null,
    };

    private static IEnumerable<GadgetDefinition> ReadEmbedded()
    {
        var assembly = typeof(GadgetCatalog).Assembly;
        foreach (string resource in assembly.GetManifestResourceNames().Where(r => r.StartsWith(ResourcePrefix, StringComparison.Ordinal) && r.EndsWith(ObjectSuffix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            string name = resource[ResourcePrefix.Length..^ObjectSuffix.Length];
            byte[] program = Read(resource)!;
            byte[]? yaml = Read(ResourcePrefix + name + MetadataSuffix);
            GadgetMetadata metadata = yaml is null ? GadgetMetadata.Empty : GadgetMetadata.Parse(Encoding.UTF8.GetString(yaml));
            yield return new GadgetDefinition(name, program, metadata, HookFor(name));
        }

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
