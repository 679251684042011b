using System.Buffers.Binary;
using Gadget.Schema;

namespace Gadget.Agent.Decoding;

/// <summary>
/// Turns ring records into rows by a <see cref="TraceSchema"/>: a plan made once per trace from the
/// struct's BTF, then per record a few block copies for the fixed-size fields and a NUL search for
/// each string. Nothing here knows any gadget; a gadget that needs more adds it in its hook.
/// </summary>
internal sealed class RecordDecoder
{
    private readonly Copy[] _copies;
    private readonly EndpointCopy[] _endpoints;
    private readonly VariableCopy[] _variables;
    private readonly int _mountNsOffset;

    public RecordDecoder(TraceSchema schema, int minimumRecordLength)
    {
        Schema = schema;
        MinimumRecordLength = minimumRecordLength;
        var copies = new List<Copy>();
        var endpoints = new List<EndpointCopy>();
        var variables = new List<VariableCopy>();
        foreach (SchemaField field in schema.Fields)
        {
            if (field.Source is not FieldSchema source)
            {
                continue; // derived: the hook writes it
            }

            switch (field.Kind)
            {
                case FieldKind.L3Endpoint or FieldKind.L4Endpoint:
                    endpoints.Add(new EndpointCopy(source.Offset, field.Offset, source.Endpoint
                        ?? throw new GadgetObjectException($"Field '{field.Name}' is an endpoint whose layout is unknown.")));
                    break;
                case FieldKind.String or FieldKind.StringList or FieldKind.Bytes:
                    variables.Add(new VariableCopy(source.Offset, source.Size, field.Kind == FieldKind.String));
                    break;
                default:
                    // Neighbours in the struct that are neighbours in the row copy as one block.
                    int size = Math.Min(field.Size, source.Size);
                    if (copies.Count > 0 && copies[^1] is var last && last.Source + last.Length == source.Offset && last.Target + last.Length == field.Offset)
                    {
                        copies[^1] = last with { Length = last.Length + size };
                    }
                    else
                    {
                        copies.Add(new Copy(source.Offset, field.Offset, size));
                    }

                    break;
            }
        }

        _copies = [.. copies];
        _endpoints = [.. endpoints];
        _variables = [.. variables];
        _mountNsOffset = schema.First(WellKnownType.MountNsId)?.Source?.Offset ?? -1;
    }

    public TraceSchema Schema { get; }

    /// <summary>The shortest record the struct allows: up to its variable-length tail.</summary>
    public int MinimumRecordLength { get; }

    /// <summary>The record's mount namespace (0 when the struct has none).</summary>
    public ulong MountNs(ReadOnlySpan<byte> record)
        => _mountNsOffset >= 0 ? BinaryPrimitives.ReadUInt64LittleEndian(record[_mountNsOffset..]) : 0;

    /// <summary>Writes the record's fields into the row. Throws <see cref="MalformedRecordException"/> for a short record.</summary>
    public void Decode(ReadOnlySpan<byte> record, RowWriter row)
    {
        if (record.Length < MinimumRecordLength)
        {
            throw new MalformedRecordException($"A {Schema.Gadget} record needs at least {MinimumRecordLength} bytes, it has {record.Length}.");
        }

        Span<byte> fixedBlock = row.Fixed;
        foreach (Copy copy in _copies)
        {
            record.Slice(copy.Source, copy.Length).CopyTo(fixedBlock[copy.Target..]);
        }

        foreach (EndpointCopy endpoint in _endpoints)
        {
            endpoint.Write(record[endpoint.Source..], fixedBlock[endpoint.Target..]);
        }

        foreach (VariableCopy variable in _variables)
        {
            // The last member may be cut where the program ended the record.
            int end = Math.Min(variable.Source + variable.Size, record.Length);
            ReadOnlySpan<byte> value = end > variable.Source ? record[variable.Source..end] : [];
            if (variable.CutAtNul && value.IndexOf((byte)0) is int nul and >= 0)
            {
                value = value[..nul];
            }

            row.AppendVariable(value);
        }
    }

    private readonly record struct Copy(int Source, int Target, int Length);

    private readonly record struct VariableCopy(int Source, int Size, bool CutAtNul);

    /// <summary>An endpoint struct, from the program's layout to the row's: address, port, protocol, version.</summary>
    private readonly record struct EndpointCopy(int Source, int Target, EndpointLayout Layout)
    {
        public void Write(ReadOnlySpan<byte> source, Span<byte> target)
        {
            source.Slice(Layout.AddressOffset, 16).CopyTo(target);
            if (Layout.PortOffset is int port)
            {
                source.Slice(port, 2).CopyTo(target[16..]);
            }

            if (Layout.ProtoOffset is int proto)
            {
                target[18] = source[proto];
                target[19] = Layout.ProtoSize > 1 ? source[proto + 1] : (byte)0;
            }

            target[Layout.PortOffset is null ? 16 : 20] = source[Layout.VersionOffset];
        }
    }
}

/// <summary>A ring record shorter than its struct or otherwise unreadable.</summary>
internal sealed class MalformedRecordException(string message) : Exception(message);
