using System.Text;
using Gadget.Schema;

namespace Gadget.Generator;

/// <summary>A file the generator writes, with its path relative to the repository root.</summary>
internal sealed record GeneratedFile(string Path, string Content)
{
    public bool IsCurrent(string root)
    {
        string full = System.IO.Path.Combine(root, Path);
        return File.Exists(full) && File.ReadAllText(full) == Content;
    }

    public void Write(string root)
    {
        string full = System.IO.Path.Combine(root, Path);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        File.WriteAllText(full, Content);
    }
}

/// <summary>
/// Reads every gadget folder (bpf/&lt;gadget&gt;/gadget.yaml and its compiled object) and makes the
/// client's side of it: one event class per event type, the table that picks a class for a trace's
/// schema, and the format views. The schema comes from <see cref="TraceSchema.Build"/>, the code
/// the agent runs, so the classes read exactly the rows the agent writes.
/// </summary>
internal static class CatalogGenerator
{
    public const string EventsDirectory = "src/Gadget.Client/Events/Generated";
    public const string FormatFile = "module/Gadget.Events.Format.ps1xml";

    /// <summary>Where an event type's hand-written half (properties computed from the generated ones) lives.</summary>
    public const string HandWrittenEventsDirectory = "src/Gadget.Client/Events";

    public static string DefaultObjectDirectory(string root) => Path.Combine(root, "src/Gadget.Agent/obj/bpf");

    public static IReadOnlyList<GeneratedFile> Generate(string root, string objectDirectory)
    {
        var gadgets = new List<GadgetSource>();
        foreach (string yamlPath in Directory.GetFiles(Path.Combine(root, "bpf"), "gadget.yaml", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(Path.GetDirectoryName(yamlPath)!);
            string objectPath = Path.Combine(objectDirectory, name + ".bpf.o");
            if (!File.Exists(objectPath))
            {
                throw new FileNotFoundException($"The compiled object of gadget '{name}' is missing: build the agent first (it compiles bpf/).", objectPath);
            }

            GadgetMetadata metadata = GadgetMetadata.Parse(File.ReadAllText(yamlPath));
            GadgetObjectInfo info = GadgetObjectReader.Read(File.ReadAllBytes(objectPath));
            // A tracer's events, a snapshot's records or a top's rows (its map's entries: key, then
            // value): the class reads each alike.
            MapIteratorInfo? top = info.Tracers.Count == 0 && info.Snapshots.Count == 0 && info.MapIterators.Count == 1 ? info.MapIterators[0] : null;
            EventSchema record = (info.Tracers.Count, info.Snapshots.Count, top) switch
            {
                (1, 0, null) => info.Tracers[0].Event,
                (0, 1, null) => info.Snapshots[0].Record,
                (0, 0, MapIteratorInfo map) => map.Record,
                _ => throw new InvalidOperationException($"Gadget '{name}' must declare one tracer, one snapshot or one map iterator."),
            };
            gadgets.Add(new GadgetSource(name, metadata, record, TraceSchema.Build(name, record, metadata)) { IsTop = top is not null });
        }

        var files = new List<GeneratedFile>();
        var types = new List<GadgetSource>();
        var properties = new Dictionary<string, IReadOnlyList<ViewProperty>>(StringComparer.Ordinal);
        foreach (IGrouping<string, GadgetSource> type in gadgets.Where(g => g.Metadata.TypeName is not null).GroupBy(g => g.Metadata.TypeName!))
        {
            // Gadgets that share a type (flood writes exec's events) must agree on its fields.
            GadgetSource owner = type.FirstOrDefault(g => g.Metadata.Cmdlet is not null) ?? type.First();
            foreach (GadgetSource other in type.Where(g => g != owner))
            {
                string mine = string.Join(",", owner.Schema.Fields.Select(f => $"{f.Name}:{f.Kind}"));
                string theirs = string.Join(",", other.Schema.Fields.Select(f => $"{f.Name}:{f.Kind}"));
                if (mine != theirs)
                {
                    throw new InvalidOperationException($"Gadgets '{owner.Name}' and '{other.Name}' share type {type.Key} but not its fields.");
                }
            }

            types.Add(owner);
            string handWritten = Path.Combine(root, HandWrittenEventsDirectory, type.Key + ".cs");
            string? handWrittenText = File.Exists(handWritten) ? File.ReadAllText(handWritten) : null;
            properties[type.Key] = EventClassWriter.ViewProperties(owner, handWrittenText);
            files.Add(new GeneratedFile($"{EventsDirectory}/{type.Key}.g.cs", EventClassWriter.Write(owner, handWrittenText)));
        }

        files.Add(new GeneratedFile($"{EventsDirectory}/EventTypes.g.cs", EventClassWriter.WriteTypeTable(types, gadgets)));
        files.Add(new GeneratedFile(FormatFile, FormatViewWriter.Write(types, properties)));
        return files;
    }
}

/// <summary>One gadget folder, read.</summary>
internal sealed record GadgetSource(string Name, GadgetMetadata Metadata, EventSchema Record, TraceSchema Schema)
{
    /// <summary>A top gadget: its rows derive from GadgetTopRow (window start and end).</summary>
    public bool IsTop { get; init; }
}

/// <summary>Helpers for writing generated text the same way on every machine.</summary>
internal static class Text
{
    /// <summary>snake_case, dotted paths and C constants as PascalCase: exe_path → ExePath, ALREADY_PENDING → AlreadyPending.</summary>
    public static string Pascal(string name)
    {
        bool shouting = !name.Any(char.IsLower);
        var result = new StringBuilder(name.Length);
        bool upper = true;
        foreach (char c in name)
        {
            if (c is '_' or '.' or '-')
            {
                upper = true;
                continue;
            }

            result.Append(upper ? char.ToUpperInvariant(c) : shouting ? char.ToLowerInvariant(c) : c);
            upper = false;
        }

        return result.ToString();
    }

    public static string Xml(string text) => text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);

    public static string CSharpString(string text) => "\"" + text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
