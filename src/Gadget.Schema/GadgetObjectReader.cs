namespace Gadget.Schema;

/// <summary>
/// Reads what a compiled gadget object produces from the marker variables in its BTF: tracers,
/// snapshots, map iterators, parameters (see the gadget program conventions).
/// </summary>
public static class GadgetObjectReader
{
    public const string TracerPrefix = "gadget_tracer_";
    public const string TracerTypePrefix = "__gadget_tracer_type_";
    public const string TracerMapPrefix = "gadget_map_tracer_";
    public const string ParameterPrefix = "gadget_param_";
    public const string IteratorPrefix = "gadget_iter_";
    public const string SnapshotterPrefix = "gadget_snapshotter_";
    public const string MapIteratorPrefix = "gadget_mapiter_";

    /// <summary>
    /// Struct members the reader visits for one object, over all its markers: a few times what one
    /// struct may take, and thousands of times what real gadgets need.
    /// </summary>
    public const int MaxVisitsPerObject = 4 * SchemaBuilder.MaxVisits;

    /// <summary>The largest parameter: far more than a pid, a name or a path filter needs.</summary>
    public const int MaxParameterSize = 1 << 20;

    /// <summary>Separates the parts of a marker's name.</summary>
    public const string Separator = "___";

    public static GadgetObjectInfo Read(byte[] elf)
    {
        ArgumentNullException.ThrowIfNull(elf);
        return Read(new ReadOnlyMemory<byte>(elf));
    }

    public static GadgetObjectInfo Read(ReadOnlyMemory<byte> elf) => Guard.Parse(() => ReadChecked(elf));

    private static GadgetObjectInfo ReadChecked(ReadOnlyMemory<byte> bytes)
    {
        ElfObject elf = ElfObject.Parse(bytes);
        if (!elf.TryGetSection(".BTF", out ReadOnlyMemory<byte> btfSection))
        {
            throw new GadgetObjectException("The object has no .BTF section: compile it with clang -g so that its types are described.");
        }

        Btf btf = Btf.Parse(btfSection);
        var builder = new SchemaBuilder(btf) { TotalVisitLimit = MaxVisitsPerObject };
        var tracers = new List<TracerInfo>();
        var tracerMaps = new List<string>();
        var snapshots = new List<SnapshotInfo>();
        var mapIterators = new List<MapIteratorInfo>();
        var parameterNames = new List<(string Marker, string Variable)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);

        foreach (BtfType variable in btf.TypesOfKind(BtfKind.Var))
        {
            string marker = variable.Name;
            // gadget_iter_type is an old name of a type marker, not a snapshot.
            if (!seen.Add(marker) || marker == "gadget_iter_type")
            {
                continue;
            }

            if (marker.StartsWith(TracerPrefix, StringComparison.Ordinal))
            {
                string[] parts = Split(marker, TracerPrefix, "gadget_tracer_<name>___<map>___<struct>", exactly: 3);
                tracers.Add(new TracerInfo(parts[0], parts[1], builder.BuildStruct(parts[2], $"The tracer marker '{marker}'")));
            }
            else if (marker.StartsWith(TracerMapPrefix, StringComparison.Ordinal))
            {
                tracerMaps.Add(Rest(marker, TracerMapPrefix, "gadget_map_tracer_<map>"));
            }
            else if (marker.StartsWith(IteratorPrefix, StringComparison.Ordinal) || marker.StartsWith(SnapshotterPrefix, StringComparison.Ordinal))
            {
                string prefix = marker.StartsWith(IteratorPrefix, StringComparison.Ordinal) ? IteratorPrefix : SnapshotterPrefix;
                string[] parts = Split(marker, prefix, prefix + "<name>___<struct>[___<program>...]", exactly: 0);
                snapshots.Add(new SnapshotInfo(parts[0], builder.BuildStruct(parts[1], $"The snapshot marker '{marker}'"), parts[2..]));
            }
            else if (marker.StartsWith(MapIteratorPrefix, StringComparison.Ordinal))
            {
                string[] parts = Split(marker, MapIteratorPrefix, "gadget_mapiter_<name>___<map>", exactly: 2);
                mapIterators.Add(MapIteratorReader.Read(btf, builder, parts[0], parts[1], marker));
            }
            else if (marker.StartsWith(ParameterPrefix, StringComparison.Ordinal))
            {
                parameterNames.Add((marker, Rest(marker, ParameterPrefix, "gadget_param_<variable>")));
            }
        }

        VariableInfo[] readOnly = ReadDataSection(elf, btf, builder, ".rodata", out ReadOnlyMemory<byte> rodata);
        var readOnlyByName = new Dictionary<string, VariableInfo>(StringComparer.Ordinal);
        foreach (VariableInfo variable in readOnly)
        {
            readOnlyByName.TryAdd(variable.Name, variable);
        }

        var parameters = new List<ParameterInfo>();
        byte[] zeros = [];
        foreach ((string marker, string name) in parameterNames)
        {
            VariableInfo variable = readOnlyByName.GetValueOrDefault(name)
                ?? throw new GadgetObjectException(
                    $"The parameter marker '{marker}' names variable '{name}', which is not in .rodata: declare it 'const volatile'.");
            if (variable.Size > MaxParameterSize)
            {
                throw new GadgetObjectException(
                    $"The parameter '{name}' is {variable.Size} bytes long; a parameter may take at most {MaxParameterSize}.");
            }

            // A .rodata without contents in the file (all zero) reads as zeros, from one shared
            // buffer; otherwise the default is a view of the object's own bytes, not a copy, so
            // variables that overlap cost nothing.
            if (rodata.IsEmpty && zeros.Length < variable.Size)
            {
                zeros = new byte[variable.Size];
            }

            ReadOnlyMemory<byte> value = rodata.IsEmpty
                ? zeros.AsMemory(0, variable.Size)
                : Bounds.Slice(rodata, variable.Offset, variable.Size, $"The default value of parameter '{name}'");
            parameters.Add(new ParameterInfo(name, variable.Type, value) { Offset = variable.Offset, Size = variable.Size });
        }

        string[] maps = btf.TryFindType(".maps", BtfKind.DataSec, out BtfType? mapSection)
            ? [.. mapSection.Variables.Select(v => btf[v.Type].Name)]
            : [];

        return new GadgetObjectInfo(elf, btf)
        {
            Tracers = tracers,
            TracerMaps = tracerMaps,
            Snapshots = snapshots,
            MapIterators = mapIterators,
            Parameters = parameters,
            ReadOnlyVariables = readOnly,
            Maps = maps,
        };
    }

    /// <summary>
    /// The variables of a data section with their real offsets. clang leaves a DATASEC's size and
    /// its variables' offsets zero (libbpf fills them in at open from the ELF symbols); a linked
    /// object has them filled in already.
    /// </summary>
    private static VariableInfo[] ReadDataSection(ElfObject elf, Btf btf, SchemaBuilder builder, string name, out ReadOnlyMemory<byte> contents)
    {
        contents = ReadOnlyMemory<byte>.Empty;
        if (!btf.TryFindType(name, BtfKind.DataSec, out BtfType? section))
        {
            return [];
        }

        bool fromSymbols = section.Size == 0;
        elf.TryGetSectionInfo(name, out ElfSection? elfSection);
        long sectionSize = elfSection?.Size ?? section.Size;
        contents = elfSection?.Data ?? ReadOnlyMemory<byte>.Empty;
        var variables = new List<VariableInfo>(section.Variables.Count);
        foreach (BtfDataSecVariable entry in section.Variables)
        {
            BtfType variable = btf[entry.Type];
            if (variable.Kind != BtfKind.Var)
            {
                continue;
            }

            int offset = entry.Offset;
            if (fromSymbols)
            {
                ElfSymbol symbol = (elfSection is null ? null : elf.FindSymbol(variable.Name, elfSection.Index))
                    ?? throw new GadgetObjectException($"The {name} variable '{variable.Name}' has no ELF symbol that says where it is.");
                offset = Bounds.ToInt((ulong)symbol.Value, $"The offset of {name} variable '{variable.Name}'");
            }

            int size = entry.Size != 0 ? entry.Size : btf.SizeOf(variable.ReferencedType);
            if (offset > sectionSize - size)
            {
                throw new GadgetObjectException(
                    $"The {name} variable '{variable.Name}' lies at bytes {offset}..{(long)offset + size} of a {sectionSize}-byte section.");
            }

            variables.Add(new VariableInfo(variable.Name, offset, size, builder.DescribeValue(variable.Name, variable.ReferencedType)));
        }

        return [.. variables];
    }

    /// <summary>A marker's name after its prefix, whole: a C name may hold ___ itself.</summary>
    private static string Rest(string marker, string prefix, string form)
        => marker.Length > prefix.Length ? marker[prefix.Length..] : throw new GadgetObjectException($"The marker '{marker}' does not have the form {form}.");

    /// <summary>The parts of a marker's name after its prefix; <paramref name="exactly"/> 0 means two or more.</summary>
    private static string[] Split(string marker, string prefix, string form, int exactly)
    {
        string[] parts = marker[prefix.Length..].Split(Separator);
        bool countFits = exactly == 0 ? parts.Length >= 2 : parts.Length == exactly;
        if (!countFits || parts.Any(p => p.Length == 0))
        {
            throw new GadgetObjectException($"The marker '{marker}' does not have the form {form}.");
        }

        return parts;
    }
}
