using System.Buffers.Binary;
using Gadget.Protocol.V1;
using Google.Protobuf;

namespace Gadget.Agent.Decoding;

/// <summary>
/// Rows on their way to the stream: each a little-endian uint32 length and the row, back to back in
/// one buffer, with the containers the stream has not described yet. The poll thread fills a batch;
/// the stream writes it and hands it back for reuse.
/// </summary>
internal sealed class RowBatch
{
    private byte[] _buffer = new byte[64 * 1024];

    public int Count { get; private set; }

    /// <summary>Bytes of rows, length prefixes included.</summary>
    public int Length { get; private set; }

    public List<ContainerInfo> Containers { get; } = [];

    internal byte[] Buffer => _buffer;

    /// <summary>Starts a row; write it with the returned writer, then commit or roll it back.</summary>
    public RowWriter Begin(int fixedSize)
    {
        int start = Length;
        Reserve(sizeof(uint) + fixedSize);
        _buffer.AsSpan(start + sizeof(uint), fixedSize).Clear();
        Length = start + sizeof(uint) + fixedSize;
        return new RowWriter(this, start, fixedSize);
    }

    /// <summary>Adds a whole row made earlier (an event held for its container, an unanswered query).</summary>
    public void Append(ReadOnlySpan<byte> row)
    {
        Reserve(sizeof(uint) + row.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(Length), (uint)row.Length);
        row.CopyTo(_buffer.AsSpan(Length + sizeof(uint)));
        Length += sizeof(uint) + row.Length;
        Count++;
    }

    /// <summary>Keeps the first <paramref name="count"/> rows (an event budget ends in this batch).</summary>
    public void Truncate(int count)
    {
        int offset = 0;
        for (int i = 0; i < count && offset < Length; i++)
        {
            offset += sizeof(uint) + (int)BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(offset));
        }

        Length = offset;
        Count = Math.Min(Count, count);
    }

    public void Reset()
    {
        Count = 0;
        Length = 0;
        Containers.Clear();
    }

    /// <summary>The batch as the stream sends it. The rows are not copied: write it before reusing the batch.</summary>
    public EventBatch ToMessage()
    {
        var message = new EventBatch
        {
            RowCount = (uint)Count,
            Rows = UnsafeByteOperations.UnsafeWrap(_buffer.AsMemory(0, Length)),
        };
        message.Containers.Add(Containers);
        return message;
    }

    internal void Reserve(int bytes)
    {
        if (Length + bytes > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, Length + bytes));
        }
    }

    internal void Advance(int bytes) => Length += bytes;

    internal void Commit(int start)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(start), (uint)(Length - start - sizeof(uint)));
        Count++;
    }

    internal void Rollback(int start) => Length = start;
}

/// <summary>
/// Writes one row at the end of a <see cref="RowBatch"/>: the fixed block was reserved (zeroed) by
/// <see cref="RowBatch.Begin"/>; variable parts are appended in schema order.
/// </summary>
internal readonly struct RowWriter(RowBatch batch, int start, int fixedSize)
{
    private const int LengthPrefix = sizeof(uint);

    /// <summary>The row's fixed block. Take it again after appending: the buffer may have moved.</summary>
    public Span<byte> Fixed => batch.Buffer.AsSpan(start + LengthPrefix, fixedSize);

    /// <summary>The row so far, without its length prefix.</summary>
    public ReadOnlySpan<byte> Written => batch.Buffer.AsSpan(start + LengthPrefix, batch.Length - start - LengthPrefix);

    /// <summary>Appends one variable part: its length as a varint, then its bytes.</summary>
    public void AppendVariable(ReadOnlySpan<byte> value)
    {
        batch.Reserve(5 + value.Length);
        Span<byte> target = batch.Buffer.AsSpan(batch.Length);
        int written = WriteVarint(target, (uint)value.Length);
        value.CopyTo(target[written..]);
        batch.Advance(written + value.Length);
    }

    /// <summary>Reserves a variable part of at most <paramref name="maxLength"/> bytes, to be filled in place and then closed with <see cref="EndVariable"/>.</summary>
    public Span<byte> BeginVariable(int maxLength)
    {
        batch.Reserve(5 + maxLength);
        return batch.Buffer.AsSpan(batch.Length + 5, maxLength);
    }

    /// <summary>Closes the part begun with <see cref="BeginVariable"/>: it holds <paramref name="length"/> bytes.</summary>
    public void EndVariable(int length)
    {
        Span<byte> target = batch.Buffer.AsSpan(batch.Length);
        int prefix = WriteVarint(target, (uint)length);
        if (prefix != 5)
        {
            target.Slice(5, length).CopyTo(target[prefix..]);
        }

        batch.Advance(prefix + length);
    }

    public void Commit() => batch.Commit(start);

    public void Rollback() => batch.Rollback(start);

    private static int WriteVarint(Span<byte> target, uint value)
    {
        int i = 0;
        while (value >= 0x80)
        {
            target[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        target[i++] = (byte)value;
        return i;
    }
}
