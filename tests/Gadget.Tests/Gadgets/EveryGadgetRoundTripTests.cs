using System.Collections;
using System.Globalization;
using System.Net;
using System.Reflection;
using System.Text;
using Gadget.Agent.Gadgets;
using Gadget.Schema;
using Gadget.Tests.Dns;
using Xunit;

namespace Gadget.Tests.Gadgets;

/// <summary>
/// Every gadget the agent carries, end to end: a record with a distinct non-zero value in every
/// field of its event struct, laid out by the object's BTF, goes through the agent's decoder and
/// the gadget's hook into a row batch, through the EventBatch message's bytes, and through the
/// client's reader into the typed event, whose every property must then hold the record's value.
/// A field or a gadget that falls out anywhere on the way fails here.
/// </summary>
public sealed class EveryGadgetRoundTripTests
{
    /// <summary>What GadgetEvent reads for every event: the first field of each of these well-known types.</summary>
    private static readonly (WellKnownType Type, string Property)[] CommonFields =
    [
        (WellKnownType.Timestamp, nameof(GadgetEvent.Timestamp)), (WellKnownType.Pid, nameof(GadgetEvent.Pid)),
        (WellKnownType.Tid, nameof(GadgetEvent.Tid)), (WellKnownType.Ppid, nameof(GadgetEvent.Ppid)),
        (WellKnownType.Uid, nameof(GadgetEvent.Uid)), (WellKnownType.Gid, nameof(GadgetEvent.Gid)),
        (WellKnownType.Comm, nameof(GadgetEvent.Comm)), (WellKnownType.ThreadComm, nameof(GadgetEvent.ThreadName)), (WellKnownType.MountNsId, nameof(GadgetEvent.MountNsId)),
        (WellKnownType.NetNsId, nameof(GadgetEvent.NetNsId)),
    ];

    /// <summary>The DNS message the dns record carries, and what the agent derives from it.</summary>
    /// <summary>A response with every header flag the event shows set: QR, AA, TC, RD, RA.</summary>
    private static readonly byte[] DnsMessage = WithAaAndTc(DnsWire.Response(0x4d2, "round.trip.test", DnsWire.TypeAaaa, 5, IPAddress.Parse("192.0.2.7"), IPAddress.Parse("2001:db8::7")));

    private static byte[] WithAaAndTc(byte[] message)
    {
        message[2] |= 0x06;
        return message;
    }

    /// <summary>
    /// For the gadgets whose hook needs more than the struct's fields (members the schema leaves
    /// out), what to write there, and what the hook then derives. A gadget that derives fields must
    /// say here what a record makes of them.
    /// </summary>
    private static readonly Dictionary<string, Func<RecordBuilder, IReadOnlyDictionary<string, object?>, Dictionary<string, object?>>> Hooks = new()
    {
        ["exec"] = (record, values) =>
        {
            record.SetMember("__args_size", ArgvBytes((string[])values["args"]!).Length);
            return [];
        },
        ["open"] = (record, values) =>
        {
            // An absolute path: its own full path, with no directory sent.
            record.SetMember("__dir_flags", 0).SetMember("__dir_size", 0).EndInTail(0);
            return new() { ["full_path"] = values["path"] };
        },
        ["top_file"] = (record, _) =>
        {
            // The path's components as the program sends them: innermost first, NUL-separated.
            byte[] components = "c.txt\0b\0a\0"u8.ToArray();
            record.SetMember("__path_size", components.Length).SetMember("__path_flags", 0).SetBytes("__path", components);
            return new() { ["path"] = "/a/b/c.txt" };
        },
        ["dns"] = (record, _) =>
        {
            // The kernel captured all but the last byte's worth of the message's length: truncated.
            record.SetMember("__socket_cookie", 0x5eed).SetMember("__flags", 1).SetMember("__msg_len", DnsMessage.Length + 1).SetMember("__data_len", DnsMessage.Length);
            record.SetBytes("__data", DnsMessage);
            record.EndInTail(DnsMessage.Length);
            return new()
            {
                ["qtype"] = (long)DnsWire.TypeAaaa,
                ["name"] = "round.trip.test.",
                ["rcode"] = 5L,
                ["num_answers"] = 2L,
                ["addresses"] = new[] { IPAddress.Parse("192.0.2.7"), IPAddress.Parse("2001:db8::7") },
                ["tc"] = true,
                ["aa"] = true,
                ["rd"] = true,
                ["ra"] = true,
                ["capture_truncated"] = true,
            };
        },
    };

    public static TheoryData<string> Gadgets => [.. GadgetCatalog.Default.All.Select(g => g.Name)];

    [Fact]
    public void TheAgentCarriesEveryGadgetFolder()
    {
        string[] folders = [.. Directory.GetFiles(Path.Combine(Repository.Root, "bpf"), "gadget.yaml", SearchOption.AllDirectories)
            .Select(path => Path.GetFileName(Path.GetDirectoryName(path)!)).Order(StringComparer.Ordinal)];

        Assert.NotEmpty(folders);
        Assert.Equal(folders, GadgetCatalog.Default.All.Select(g => g.Name));
    }

    [Theory]
    [MemberData(nameof(Gadgets))]
    public void ARecordReachesTheTypedEventFieldByField(string name)
    {
        GadgetDefinition gadget = TestGadgets.Get(name);
        (byte[] record, Dictionary<string, object?> expected) = RecordOfEveryField(gadget);
        var agent = new AgentRows(gadget);

        Assert.True(agent.Add(record), $"The {name} hook filtered the record out.");
        GadgetEvent e = Assert.Single(agent.ToEvents());

        // A gadget with a type name arrives as that type, not as the generic record.
        Assert.Equal(gadget.Schema.TypeName ?? nameof(GadgetRecord), e.GetType().Name);
        Assert.Equal(ClientRows.Node, e.Node);
        foreach (SchemaField field in gadget.Schema.Fields)
        {
            Assert.True(expected.TryGetValue(field.Name, out object? value), $"Gadget {name}: the test has no value for field '{field.Name}'.");
            Assert.Equal((field.Name, Canonical(value)), (field.Name, Canonical(Actual(e, gadget.Schema, field))));
        }

        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), gadget.Schema.Fields.Select(f => f.Name).Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Gadgets))]
    public void EveryValueIsDistinctAndNotZero(string name)
    {
        // The guard above proves nothing of a field whose value is zero, or equal to a neighbour's
        // it could have been read from by mistake. (Derived fields may repeat one: open's full path.)
        GadgetDefinition gadget = TestGadgets.Get(name);
        (byte[] _, Dictionary<string, object?> expected) = RecordOfEveryField(gadget);
        object?[] all = [.. gadget.Record.Fields.Select(f => Canonical(expected[f.Path]))];
        Assert.DoesNotContain(all, v => v is null or false || v is decimal and 0m || (v is string text && text.Length == 0));
        string[] values = [.. all.Where(v => v is not bool).Select(v => v!.ToString()!)];
        Assert.Equal(values.Length, values.Distinct(StringComparer.Ordinal).Count());
    }

    [Theory]
    [MemberData(nameof(Gadgets))]
    public void ARecordCutAnywhereIsDecodedOrMalformedAndNothingElse(string name)
    {
        // The ring hands over whatever the program wrote: a record shorter than the struct allows is
        // counted as malformed; one cut inside its tail decodes. No other exception may reach the poll thread.
        GadgetDefinition gadget = TestGadgets.Get(name);
        (byte[] record, _) = RecordOfEveryField(gadget);
        int minimum = gadget.Record.MinimumRecordSize;
        var agent = new AgentRows(gadget);
        int decoded = 0;
        for (int length = 0; length <= record.Length; length++)
        {
            agent.Batch.Reset();
            if (length < minimum)
            {
                Assert.Throws<Gadget.Agent.Decoding.MalformedRecordException>(() => agent.Add(record.AsSpan(0, length)));
                Assert.Equal(0, agent.Batch.Length);
                continue;
            }

            try
            {
                if (agent.Add(record.AsSpan(0, length)))
                {
                    Assert.Single(agent.ToEvents());
                    decoded++;
                }
            }
            catch (Gadget.Agent.Decoding.MalformedRecordException)
            {
                Assert.Equal(0, agent.Batch.Length);
            }
        }

        Assert.True(decoded > 0, $"No cut of the {name} record decoded, not even the whole record.");
    }

    /// <summary>A record with a distinct non-zero value in every field of the event struct; the values by schema field name, as the client shows them.</summary>
    private static (byte[] Record, Dictionary<string, object?> Expected) RecordOfEveryField(GadgetDefinition gadget)
    {
        var record = new RecordBuilder(gadget);
        var expected = new Dictionary<string, object?>(StringComparer.Ordinal);
        int index = 0;
        foreach (FieldSchema field in gadget.Record.Fields)
        {
            index++;
            expected[field.Path] = Write(record, field, index);
        }

        if (gadget.Record.Tail is FieldSchema tail && expected[tail.Path] is string[] argv)
        {
            record.EndInTail(ArgvBytes(argv).Length);
        }

        if (Hooks.TryGetValue(gadget.Name, out var hook))
        {
            foreach ((string field, object? value) in hook(record, expected))
            {
                expected[field] = value;
            }
        }

        SchemaField? underived = gadget.Schema.Fields.FirstOrDefault(f => f.Source is null && !expected.ContainsKey(f.Name));
        Assert.True(underived is null, $"Gadget {gadget.Name} derives field '{underived?.Name}': say in {nameof(Hooks)} what a record makes of it.");
        return (record.Build(), expected);
    }

    /// <summary>Writes the <paramref name="index"/>th field's value and returns it as the client shows it.</summary>
    private static object? Write(RecordBuilder record, FieldSchema field, int index)
    {
        switch (field.Kind)
        {
            case FieldKind.Bool:
                record.Set(field.Path, 1);
                return true;
            case FieldKind.Int or FieldKind.Enum or FieldKind.Pointer when field.WellKnown == WellKnownType.Timestamp:
                ulong bootNs = (1_000_000_000ul * (ulong)index) + 123_456_700;
                record.Set(field.Path, (long)bootNs);
                return ClientRows.Time(bootNs);
            case FieldKind.Int or FieldKind.Enum or FieldKind.Pointer when field.WellKnown == WellKnownType.Duration:
                ulong ns = (1_000_000ul * (ulong)index) + 4_500;
                record.Set(field.Path, (long)ns);
                return TimeSpan.FromTicks((long)(ns / 100));
            case FieldKind.Enum when field.EnumMembers.Where(m => m.Value != 0).ToArray() is { Length: > 0 } named:
                long member = named[index % named.Length].Value;
                record.Set(field.Path, member);
                return member;
            case FieldKind.Int or FieldKind.Enum or FieldKind.Pointer:
                // A pattern of the field's own width, negative where the field is signed: a read of
                // the wrong width or without sign extension shows.
                long value = (long)((ulong)index * (0x0101010101010101ul >> (64 - (8 * Math.Min(field.Size, 8)))));
                value = field.Signed ? -value : value;
                record.Set(field.Path, value);
                return value;
            case FieldKind.String:
                string text = $"/f{index}-\u00fc";
                record.SetString(field.Path, text);
                return text;
            case FieldKind.StringList:
                string[] argv = [$"a{index}", "", $"b-\u00fc{index}"];
                record.SetBytes(field.Path, ArgvBytes(argv));
                return argv;
            case FieldKind.L3Endpoint:
                var address = IPAddress.Parse($"198.51.100.{index}");
                record.SetEndpoint(field.Path, address);
                return address;
            case FieldKind.L4Endpoint:
                // Version 4 and 6 in turn.
                var endpoint = new IPEndPoint(index % 2 == 0 ? IPAddress.Parse($"203.0.113.{index}") : IPAddress.Parse($"2001:db8::{index:x}"), 1000 + index);
                record.SetEndpoint(field.Path, endpoint.Address, (ushort)endpoint.Port, 17);
                return endpoint;
            case FieldKind.Float:
                throw new NotSupportedException($"Field '{field.Path}': add floats to this test before a gadget uses them.");
            default:
                byte[] bytes = [.. Enumerable.Range(1, field.Size).Select(b => (byte)(b + index))];
                record.SetBytes(field.Path, bytes);
                return bytes;
        }
    }

    /// <summary>The typed event's property for a field: GadgetEvent's for the common fields, else the generated one (by gadget.property or the field's name in PascalCase).</summary>
    internal static object? Actual(GadgetEvent e, TraceSchema schema, SchemaField field)
    {
        if (e is GadgetRecord record)
        {
            return Assert.Single(record.Fields, f => f.Key == field.Name).Value;
        }

        string property = CommonFields.FirstOrDefault(c => schema.First(c.Type) == field).Property
            ?? field.Annotation("gadget.property")
            ?? Generator.Text.Pascal(field.Name);
        PropertyInfo? info = MostDerived(e.GetType(), property, BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);
        Assert.True(info is not null, $"{e.GetType().Name} has no property {property} for field '{field.Name}'.");
        return info.GetValue(e);
    }

    /// <summary>
    /// The property a name reads in C# and PowerShell: the most derived one. A typed property hides
    /// a same-named text form in its type's *Json base class, where GetProperty would find two.
    /// </summary>
    internal static PropertyInfo? MostDerived(Type type, string name, BindingFlags flags)
    {
        for (Type? t = type; t is not null; t = t.BaseType)
        {
            if (t.GetProperty(name, flags | BindingFlags.DeclaredOnly) is PropertyInfo property)
            {
                return property;
            }
        }

        return null;
    }

    /// <summary>A value in a form that compares across types: numbers and enums as numbers, lists as their items.</summary>
    internal static object? Canonical(object? value) => value switch
    {
        null => null,
        string or bool => value,
        Enum or byte or sbyte or short or ushort or int or uint or long or ulong => Convert.ToDecimal(value, CultureInfo.InvariantCulture),
        DateTime time => time.ToString("O", CultureInfo.InvariantCulture) + time.Kind,
        TimeSpan span => span.Ticks.ToString(CultureInfo.InvariantCulture) + " ticks",
        IEnumerable items => "[" + string.Join(" | ", items.Cast<object?>().Select(i => Canonical(i)?.ToString())) + "]",
        _ => value.ToString(),
    };

    private static byte[] ArgvBytes(string[] argv) => Encoding.UTF8.GetBytes(string.Join('\0', argv) + "\0");
}
