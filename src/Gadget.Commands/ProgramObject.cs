using System.Globalization;
using System.Management.Automation;
using System.Net;
using System.Security;
using System.Text;
using Gadget.Schema;

namespace Gadget.Commands;

/// <summary>
/// The records of a user's program as PowerShell objects: one PSObject per record, type name
/// <c>Gadget.Program.&lt;name&gt;</c>, whose properties are the record's fields with nested structs
/// flattened (proc.pid becomes proc_pid) and well-known types made readable: local time for
/// timestamps, names for errno, signals and enums, flags and modes as text, addresses as
/// IPAddress and port, user and group names beside uids and gids, and Node, Namespace, Pod and
/// Container from the mount namespace. Every property is a scalar, so Export-Csv writes one column
/// each. The plan is made once per schema, not per record.
/// </summary>
internal sealed class ProgramObject
{
    public const string TypeNamePrefix = "Gadget.Program.";

    /// <summary>Widest table a view may make (the module's views keep within 120 columns).</summary>
    private const int MaxTableWidth = 120;

    /// <summary>The narrowest an important column is made to fit rather than left out.</summary>
    private const int MinShrunkWidth = 12;

    private readonly List<Emit> _emits = [];
    private readonly string[] _typeNames;
    private readonly PSMemberInfo _standardMembers;
    private readonly List<Column> _columns = [];

    /// <summary>Columns after the program's own: where the record came from.</summary>
    private readonly List<Column> _trailing = [];

    /// <summary>A table column's script for text: control characters as \e, \n, \x07 … (as ControlText does).</summary>
    private const string EscapeScript = "\"$($_.'PROPERTY')\" -replace '[\\x00-\\x1f\\x7f-\\x9f]', { switch ([int][char]$_.Value) { 27 { '\\e' } 10 { '\\n' } 13 { '\\r' } 9 { '\\t' } default { '\\x{0:x2}' -f $_ } } }";

    private sealed record Column(string Property, string Label, int Width, bool Right, string? Format, bool Escaped = false, int Priority = 2);

    private delegate void Emit(GadgetRecord record, PSObject target);

    /// <param name="schema">The program's records, as the agent described them.</param>
    /// <param name="resolveAccountNames">
    /// Add user and group names beside uids and gids, from this machine's accounts: for a trace of
    /// this host only; another node's ids mean that node's users.
    /// </param>
    public ProgramObject(TraceSchema schema, bool resolveAccountNames = true)
    {
        Schema = schema;
        TypeName = TypeNamePrefix + schema.Gadget;
        _typeNames = [TypeName, "Gadget.Program"];
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var visible = new List<string>();
        AddRecordProperty("Node", r => r.Node, 12);
        AddRecordProperty("Namespace", r => r.Namespace, 12);
        AddRecordProperty("Pod", r => r.Pod, 16);
        AddRecordProperty("Container", r => r.Container, 12);

        for (int i = 0; i < schema.Fields.Count; i++)
        {
            SchemaField field = schema.Fields[i];
            int index = i;
            string flat = field.Name.Replace('.', '_');
            bool raw = flat.EndsWith("_raw", StringComparison.Ordinal) && flat.Length > 4;
            string name = raw ? flat[..^4] : flat;
            if (!names.Add(name))
            {
                continue;
            }

            bool hidden = string.Equals(field.Annotation("columns.hidden"), "true", StringComparison.OrdinalIgnoreCase);
            int? width = int.TryParse(field.Annotation("columns.width"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int w) && w > 0 ? w : null;
            Func<object?, object?> readable = Readable(field);
            _emits.Add((record, target) => target.Properties.Add(new PSNoteProperty(name, readable(record.Fields[index].Value))));
            // Without gadget.yaml's say, the ids behind the enrichment stay out of the table.
            // The thread's own name (gadget/types.h) is mostly empty: a property, not a column.
            bool column = !hidden && (width is not null || field.WellKnown is not (WellKnownType.MountNsId or WellKnownType.NetNsId or WellKnownType.Tid
                or WellKnownType.Ptid or WellKnownType.Ppid or WellKnownType.Gid or WellKnownType.KernelStack or WellKnownType.ThreadComm));
            if (!hidden)
            {
                visible.Add(name);
            }

            if (column)
            {
                string label = (name.Contains('_', StringComparison.Ordinal) && field.Name.Contains('.', StringComparison.Ordinal) ? field.Name[(field.Name.LastIndexOf('.') + 1)..] : name).ToUpperInvariant();
                label = label.EndsWith("_RAW", StringComparison.Ordinal) ? label[..^4] : label;
                _columns.Add(new Column(name, label, width ?? DefaultWidth(field), IsNumber(field), field.WellKnown == WellKnownType.Timestamp ? "{0:HH:mm:ss.fff}" : null,
                    Escaped: field.Kind is FieldKind.String or FieldKind.StringList, Priority: ColumnPriority(field, width is not null)));
            }

            switch (field.Kind)
            {
                case FieldKind.L4Endpoint:
                    string port = name + "_port";
                    string proto = name + "_proto";
                    if (names.Add(port) && names.Add(proto))
                    {
                        _emits.Add((record, target) =>
                        {
                            target.Properties.Add(new PSNoteProperty(port, record.Fields[index].Value is IPEndPoint endpoint ? endpoint.Port : 0));
                            target.Properties.Add(new PSNoteProperty(proto, Protocol(record.Protocols?.GetValueOrDefault(field.Name) ?? 0)));
                        });
                        if (!hidden)
                        {
                            visible.Add(port);
                            _columns.Add(new Column(port, "PORT", 5, true, null));
                        }
                    }

                    break;
                case FieldKind.Int when resolveAccountNames && field.WellKnown is WellKnownType.Uid or WellKnownType.Gid:
                    bool isUid = field.WellKnown == WellKnownType.Uid;
                    string sibling = Sibling(name, isUid ? "uid" : "gid", isUid ? "user" : "group");
                    if (names.Add(sibling))
                    {
                        _emits.Add((record, target) => target.Properties.Add(new PSNoteProperty(sibling,
                            record.Fields[index].Value is ulong id ? (isUid ? AccountNames.User(id) : AccountNames.Group(id)) : null)));
                    }

                    break;
            }
        }

        // The names every event has, for Where-Object, Sort-Object and Group-Object, when the
        // program's own fields are nested (proc.comm): aliases, so nothing is computed twice.
        foreach ((string alias, WellKnownType type) in new[] { ("Timestamp", WellKnownType.Timestamp), ("Pid", WellKnownType.Pid), ("Comm", WellKnownType.Comm), ("ThreadName", WellKnownType.ThreadComm) })
        {
            if (!names.Contains(alias) && schema.First(type) is SchemaField target)
            {
                string flat = target.Name.Replace('.', '_');
                string property = flat.EndsWith("_raw", StringComparison.Ordinal) ? flat[..^4] : flat;
                if (names.Contains(property) && names.Add(alias))
                {
                    _emits.Add((_, o) => o.Properties.Add(new PSAliasProperty(alias, property)));
                }
            }
        }

        _standardMembers = new PSMemberSet("PSStandardMembers", [new PSPropertySet("DefaultDisplayPropertySet", visible)]);

        void AddRecordProperty(string name, Func<GadgetRecord, object?> value, int width)
        {
            names.Add(name);
            _emits.Add((record, target) => target.Properties.Add(new PSNoteProperty(name, value(record))));
            if (name is "Namespace" or "Pod")
            {
                _trailing.Add(new Column(name, name.ToUpperInvariant(), width, false, null, Escaped: true));
            }
        }
    }

    public TraceSchema Schema { get; }

    public string TypeName { get; }

    public PSObject From(GadgetRecord record)
    {
        var result = new PSObject();
        for (int i = _typeNames.Length - 1; i >= 0; i--)
        {
            result.TypeNames.Insert(0, _typeNames[i]);
        }

        foreach (Emit emit in _emits)
        {
            emit(record, result);
        }

        result.Members.Add(_standardMembers);
        return result;
    }

    /// <summary>
    /// A table view for <see cref="TypeName"/>: gadget.yaml's columns (width, hidden) in the
    /// struct's order, else widths by type; columns that would make it wider than 120 are left to
    /// Format-List and Select-Object.
    /// </summary>
    public string FormatXml()
    {
        var headers = new StringBuilder();
        var items = new StringBuilder();
        int total = 0;

        // Who and when first, then the text the program reports (a file name, a query), then the
        // rest, while they fit; shown in the struct's order.
        int reserved = _trailing.Sum(c => c.Width + 1);
        var chosen = new Dictionary<Column, int>();
        foreach (Column column in _columns.OrderBy(c => c.Priority))
        {
            int width = Math.Clamp(column.Width, 3, 60);
            int room = MaxTableWidth - reserved - total - 1;
            if (width > room && column.Priority <= 1 && room >= MinShrunkWidth)
            {
                width = room; // the program's own text, narrower rather than left out
            }

            if (width <= room)
            {
                total += width + 1;
                chosen[column] = width;
            }
        }

        foreach (Column column in _columns.Where(chosen.ContainsKey))
        {
            Add(column with { Width = chosen[column] });
        }

        foreach (Column column in _trailing)
        {
            Add(column);
        }

        string name = SecurityElement.Escape(TypeName);
        return Xml();

        void Add(Column column)
        {
            string header = column.Label.Length > column.Width ? column.Label[..column.Width] : column.Label;
            headers.Append(CultureInfo.InvariantCulture, $"<TableColumnHeader><Label>{SecurityElement.Escape(header)}</Label><Width>{column.Width}</Width><Alignment>{(column.Right ? "Right" : "Left")}</Alignment></TableColumnHeader>");

            // Text a traced process controls reaches the terminal with its control characters escaped.
            string value = column.Escaped
                ? $"<ScriptBlock>{SecurityElement.Escape(EscapeScript.Replace("PROPERTY", column.Property.Replace("'", "''", StringComparison.Ordinal), StringComparison.Ordinal))}</ScriptBlock>"
                : $"<PropertyName>{SecurityElement.Escape(column.Property)}</PropertyName>";
            items.Append(CultureInfo.InvariantCulture, $"<TableColumnItem>{value}{(column.Format is null ? string.Empty : $"<FormatString>{SecurityElement.Escape(column.Format)}</FormatString>")}</TableColumnItem>");
        }

        string Xml() => $"<?xml version=\"1.0\" encoding=\"utf-8\"?><Configuration><ViewDefinitions><View><Name>{name}</Name><ViewSelectedBy><TypeName>{name}</TypeName></ViewSelectedBy>" +
            $"<TableControl><TableHeaders>{headers}</TableHeaders><TableRowEntries><TableRowEntry><TableColumnItems>{items}</TableColumnItems></TableRowEntry></TableRowEntries></TableControl></View></ViewDefinitions></Configuration>";
    }

    /// <summary>0: when and who (time, pid, comm); 1: a width gadget.yaml gave, text, addresses, errors; 2: the rest.</summary>
    private static int ColumnPriority(SchemaField field, bool sized) => field.WellKnown switch
    {
        WellKnownType.Timestamp or WellKnownType.Pid or WellKnownType.Comm => 0,
        WellKnownType.Errno or WellKnownType.Signal => 1,
        _ when sized => 1,
        _ => field.Kind is FieldKind.String or FieldKind.StringList or FieldKind.L3Endpoint or FieldKind.L4Endpoint or FieldKind.Enum ? 1 : 2,
    };

    private static bool IsNumber(SchemaField field) => field.Kind is FieldKind.Int or FieldKind.Float && field.WellKnown is not (WellKnownType.Timestamp or WellKnownType.FileMode or WellKnownType.FileFlags or WellKnownType.Errno or WellKnownType.Signal);

    private static int DefaultWidth(SchemaField field) => field.WellKnown switch
    {
        WellKnownType.Timestamp => 12,
        WellKnownType.Comm or WellKnownType.Pcomm => 15,
        WellKnownType.Errno or WellKnownType.Signal => 9,
        WellKnownType.FileMode => 10,
        WellKnownType.FileFlags => 20,
        WellKnownType.MountNsId or WellKnownType.NetNsId => 10,
        _ => field.Kind switch
        {
            FieldKind.Bool => 5,
            FieldKind.Enum => 12,
            FieldKind.Int => field.Size >= 8 ? 12 : 7,
            FieldKind.L3Endpoint or FieldKind.L4Endpoint => 16,
            _ => 24,
        },
    };

    /// <summary>The readable form of a field's decoded value.</summary>
    private static Func<object?, object?> Readable(SchemaField field) => field.WellKnown switch
    {
        WellKnownType.Timestamp => value => value is DateTime time ? time.ToLocalTime() : value,
        WellKnownType.FileMode => value => value is ulong mode ? FileMode((uint)mode) : value,
        _ => field.Kind switch
        {
            FieldKind.Bytes => value => value is byte[] bytes ? Convert.ToHexString(bytes) : value,
            FieldKind.StringList or FieldKind.AddressList => value => value?.ToString(),
            FieldKind.L4Endpoint => value => value is IPEndPoint endpoint ? endpoint.Address : value,
            _ => value => value,
        },
    };

    /// <summary>A mode as ls shows it (-rw-r--r--), the file type first when the mode has one.</summary>
    internal static string FileMode(uint mode)
    {
        char type = (mode & 0xF000) switch
        {
            0x4000 => 'd',
            0xA000 => 'l',
            0x2000 => 'c',
            0x6000 => 'b',
            0x1000 => 'p',
            0xC000 => 's',
            _ => '-',
        };
        Span<char> text = stackalloc char[10];
        text[0] = type;
        const string Letters = "rwxrwxrwx";
        for (int i = 0; i < 9; i++)
        {
            text[i + 1] = (mode & (1u << (8 - i))) != 0 ? Letters[i] : '-';
        }

        if ((mode & 0x800) != 0)
        {
            text[3] = text[3] == 'x' ? 's' : 'S';
        }

        if ((mode & 0x400) != 0)
        {
            text[6] = text[6] == 'x' ? 's' : 'S';
        }

        if ((mode & 0x200) != 0)
        {
            text[9] = text[9] == 'x' ? 't' : 'T';
        }

        return new string(text);
    }

    private static string Protocol(int number) => number switch
    {
        6 => "TCP",
        17 => "UDP",
        1 => "ICMP",
        58 => "ICMPv6",
        132 => "SCTP",
        0 => string.Empty,
        _ => number.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>proc_uid → proc_user, owner → owner_user.</summary>
    private static string Sibling(string name, string id, string word)
        => name.EndsWith(id, StringComparison.OrdinalIgnoreCase) ? name[..^id.Length] + word : name + "_" + word;
}

/// <summary>User and group names by id, from this machine's /etc/passwd and /etc/group, read once.</summary>
internal static class AccountNames
{
    private static readonly Lazy<Dictionary<ulong, string>> Users = new(() => Read("/etc/passwd"));
    private static readonly Lazy<Dictionary<ulong, string>> Groups = new(() => Read("/etc/group"));

    public static string? User(ulong id) => Users.Value.GetValueOrDefault(id);

    public static string? Group(ulong id) => Groups.Value.GetValueOrDefault(id);

    private static Dictionary<ulong, string> Read(string path)
    {
        var names = new Dictionary<ulong, string>();
        try
        {
            if (!File.Exists(path))
            {
                return names;
            }

            foreach (string line in File.ReadLines(path))
            {
                string[] parts = line.Split(':');
                if (parts.Length >= 3 && ulong.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out ulong id))
                {
                    names.TryAdd(id, parts[0]);
                }
            }
        }
        catch (IOException)
        {
            // No names: the ids stay.
        }
        catch (UnauthorizedAccessException)
        {
        }

        return names;
    }
}
