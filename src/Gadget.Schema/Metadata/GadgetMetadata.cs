using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Gadget.Schema;

/// <summary>
/// What a gadget's <c>gadget.yaml</c> adds to its program's BTF: descriptions, parameter keys and
/// defaults, the fields the agent derives, how tables show the event, and the names the client
/// uses. The layout is Inspektor Gadget's (<c>params.ebpf</c>, <c>datasources.*.fields.*.annotations</c>)
/// with a few keys of Gadget's own, so a file written for either reads in both.
/// </summary>
public sealed class GadgetMetadata
{
    /// <summary>Metadata of a program that came without a gadget.yaml.</summary>
    public static readonly GadgetMetadata Empty = new();

    public string Name { get; private init; } = string.Empty;

    public string Description { get; private init; } = string.Empty;

    /// <summary>The cmdlet that runs the gadget (Trace-GadgetExec), if it has its own.</summary>
    public string? Cmdlet { get; private init; }

    /// <summary>The .NET event type the client makes of the events (ExecEvent); null: a PSObject.</summary>
    public string? TypeName { get; private init; }

    /// <summary>
    /// How an event reads as text (ToString): a template of property names in braces, with an
    /// optional format ("{Timestamp:HH:mm:ss.fff} {Pid} {Comm}"); null: the type's name.
    /// </summary>
    public string? ToStringTemplate { get; private init; }

    /// <summary>
    /// A top's main figure: the field its rows are sorted by, largest first, before a window is cut
    /// to its first rows (bytes); null: the rows' own order.
    /// </summary>
    public string? SortBy { get; private init; }

    /// <summary>A gadget for benchmarks and diagnostics, left out of completion.</summary>
    public bool Diagnostic { get; private init; }

    /// <summary>Parameters that set a program's <c>const volatile</c> variable, by variable name.</summary>
    public IReadOnlyList<ParameterMetadata> ProgramParameters { get; private init; } = [];

    /// <summary>Parameters the gadget's code in the agent interprets.</summary>
    public IReadOnlyList<ParameterMetadata> AgentParameters { get; private init; } = [];

    /// <summary>Annotations by field path (proc.pid, full_path), in the file's order.</summary>
    public IReadOnlyList<FieldMetadata> Fields { get; private init; } = [];

    /// <summary>Table views, the first being the default.</summary>
    public IReadOnlyList<ViewMetadata> Views { get; private init; } = [];

    /// <summary>The annotations of one field, or null.</summary>
    public FieldMetadata? Field(string path) => Fields.FirstOrDefault(f => f.Path == path);

    /// <summary>Reads a gadget.yaml. Throws <see cref="GadgetObjectException"/> with the line of what is wrong.</summary>
    public static GadgetMetadata Parse(string yaml)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException exception)
        {
            throw new GadgetObjectException($"gadget.yaml is not valid YAML (line {exception.Start.Line}): {exception.Message}");
        }

        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            return Empty;
        }

        var programParameters = new List<ParameterMetadata>();
        var agentParameters = new List<ParameterMetadata>();
        if (Child(root, "params") is YamlMappingNode parameters)
        {
            ReadParameters(Child(parameters, "ebpf"), programParameters, isProgram: true);
            ReadParameters(Child(parameters, "agent"), agentParameters, isProgram: false);
        }

        var fields = new List<FieldMetadata>();
        if (Child(root, "datasources") is YamlMappingNode sources)
        {
            foreach ((YamlNode _, YamlNode source) in sources.Children)
            {
                if (source is YamlMappingNode sourceMap && Child(sourceMap, "fields") is YamlMappingNode fieldMap)
                {
                    foreach ((YamlNode key, YamlNode value) in fieldMap.Children)
                    {
                        fields.Add(ReadField(Scalar(key) ?? string.Empty, value));
                    }
                }
            }
        }

        var views = new List<ViewMetadata>();
        if (Child(root, "views") is YamlSequenceNode viewList)
        {
            foreach (YamlNode view in viewList.Children)
            {
                views.Add(ReadView(view));
            }
        }

        return new GadgetMetadata
        {
            Name = Text(root, "name") ?? string.Empty,
            Description = Text(root, "description") ?? string.Empty,
            Cmdlet = Text(root, "cmdlet"),
            TypeName = Text(root, "typeName"),
            ToStringTemplate = Text(root, "toString"),
            SortBy = Text(root, "sortBy"),
            Diagnostic = string.Equals(Text(root, "diagnostic"), "true", StringComparison.OrdinalIgnoreCase),
            ProgramParameters = programParameters,
            AgentParameters = agentParameters,
            Fields = fields,
            Views = views,
        };
    }

    private static void ReadParameters(YamlNode? node, List<ParameterMetadata> target, bool isProgram)
    {
        if (node is not YamlMappingNode map)
        {
            return;
        }

        foreach ((YamlNode nameNode, YamlNode value) in map.Children)
        {
            string name = Scalar(nameNode) ?? string.Empty;
            var entry = value as YamlMappingNode;
            target.Add(new ParameterMetadata(
                Variable: isProgram ? name : null,
                Key: (entry is null ? null : Text(entry, "key")) ?? name,
                Description: (entry is null ? null : Text(entry, "description")) ?? string.Empty,
                DefaultValue: entry is null ? null : Text(entry, "defaultValue"),
                Minimum: entry is null ? null : Number(entry, "minimum"),
                Maximum: entry is null ? null : Number(entry, "maximum")));
        }
    }

    private static FieldMetadata ReadField(string path, YamlNode node)
    {
        var annotations = new Dictionary<string, string>(StringComparer.Ordinal);
        if (node is YamlMappingNode map && Child(map, "annotations") is YamlMappingNode annotationMap)
        {
            foreach ((YamlNode key, YamlNode value) in annotationMap.Children)
            {
                if (Scalar(key) is string name && Scalar(value) is string text)
                {
                    annotations[name] = text;
                }
            }
        }

        return new FieldMetadata(path, annotations);
    }

    private static ViewMetadata ReadView(YamlNode node)
    {
        var map = node as YamlMappingNode ?? throw new GadgetObjectException($"gadget.yaml: a view must be a mapping (line {node.Start.Line}).");
        var columns = new List<ColumnMetadata>();
        if (Child(map, "columns") is YamlSequenceNode list)
        {
            foreach (YamlNode column in list.Children)
            {
                var columnMap = column as YamlMappingNode ?? throw new GadgetObjectException($"gadget.yaml: a column must be a mapping (line {column.Start.Line}).");
                string label = Text(columnMap, "label") ?? throw new GadgetObjectException($"gadget.yaml: a column needs a label (line {column.Start.Line}).");
                columns.Add(new ColumnMetadata(
                    label,
                    (int?)Number(columnMap, "width"),
                    string.Equals(Text(columnMap, "align"), "right", StringComparison.OrdinalIgnoreCase),
                    Text(columnMap, "property"),
                    Text(columnMap, "script"),
                    Text(columnMap, "format")));
            }
        }

        return new ViewMetadata(Text(map, "name") ?? throw new GadgetObjectException($"gadget.yaml: a view needs a name (line {node.Start.Line})."), columns);
    }

    private static YamlNode? Child(YamlMappingNode map, string key)
        => map.Children.TryGetValue(new YamlScalarNode(key), out YamlNode? value) ? value : null;

    private static string? Text(YamlMappingNode map, string key) => Child(map, key) is YamlNode node ? Scalar(node) : null;

    private static long? Number(YamlMappingNode map, string key)
    {
        string? text = Text(map, key);
        if (text is null)
        {
            return null;
        }

        return long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long value)
            ? value
            : throw new GadgetObjectException($"gadget.yaml: '{key}' must be a whole number, not '{text}'.");
    }

    private static string? Scalar(YamlNode node) => (node as YamlScalarNode)?.Value;
}

/// <summary>A parameter: the key users give, and the program variable it sets (null: the agent's own).</summary>
public sealed record ParameterMetadata(string? Variable, string Key, string Description, string? DefaultValue, long? Minimum, long? Maximum);

/// <summary>A field's annotations (description, columns.width, gadget.derived …).</summary>
public sealed record FieldMetadata(string Path, IReadOnlyDictionary<string, string> Annotations)
{
    public string? Description => Annotations.GetValueOrDefault("description");

    /// <summary>The type of a field the agent adds (string, int32, uint16, bool, addresses); null for a BTF field.</summary>
    public string? Derived => Annotations.GetValueOrDefault("gadget.derived");
}

/// <summary>A table view: a name (the type's own name makes it the default) and its columns.</summary>
public sealed record ViewMetadata(string Name, IReadOnlyList<ColumnMetadata> Columns);

/// <summary>One column: a property, or a script block, with a label, a width and an alignment.</summary>
public sealed record ColumnMetadata(string Label, int? Width, bool AlignRight, string? Property, string? Script, string? Format);
