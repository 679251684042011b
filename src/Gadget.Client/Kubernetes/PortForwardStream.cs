using System.Buffers;
using System.Net.WebSockets;
using System.Text;

namespace Gadget.Kubernetes;

/// <summary>
/// One forwarded port of a pod as a byte stream, over the API server's port-forward WebSocket
/// (subprotocol v4.channel.k8s.io). Every message starts with its channel byte: 0 carries the
/// data, 1 the errors of the kubelet. The first message of each channel carries the port number
/// (2 bytes, little-endian) and is skipped here.
/// </summary>
internal sealed class PortForwardStream : Stream
{
    public const string SubProtocol = "v4.channel.k8s.io";
    private const byte DataChannel = 0;
    private const byte ErrorChannel = 1;
    private const int PortPrefixLength = 2;

    private readonly WebSocket _socket;
    private readonly string _target;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly StringBuilder _error = new();
    private byte[] _message = new byte[64 * 1024];
    private int _offset;
    private int _count;
    private int _dataPrefixLeft = PortPrefixLength;
    private int _errorPrefixLeft = PortPrefixLength;
    private bool _ended;

    public PortForwardStream(WebSocket socket, string target)
    {
        _socket = socket;
        _target = target;
    }

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (_count == 0)
        {
            if (_ended || !await ReceiveDataAsync(cancellationToken).ConfigureAwait(false))
            {
                _ended = true;
                return 0;
            }
        }

        int taken = Math.Min(buffer.Length, _count);
        _message.AsMemory(_offset, taken).CopyTo(buffer);
        _offset += taken;
        _count -= taken;
        return taken;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        byte[] frame = ArrayPool<byte>.Shared.Rent(buffer.Length + 1);
        try
        {
            frame[0] = DataChannel;
            buffer.CopyTo(frame.AsMemory(1));
            await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await _socket.SendAsync(frame.AsMemory(0, buffer.Length + 1), WebSocketMessageType.Binary, endOfMessage: true, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _writeLock.Release();
            }
        }
        catch (WebSocketException exception)
        {
            throw new IOException($"The port-forward to {_target} broke: {exception.Message}", exception);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(frame);
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _socket.Abort();
            _socket.Dispose();
            _writeLock.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>Receives messages until one carries data: false at the end of the stream; errors of the kubelet throw.</summary>
    private async Task<bool> ReceiveDataAsync(CancellationToken token)
    {
        while (true)
        {
            int length = 0;
            ValueWebSocketReceiveResult result;
            try
            {
                do
                {
                    if (length == _message.Length)
                    {
                        Array.Resize(ref _message, _message.Length * 2);
                    }

                    result = await _socket.ReceiveAsync(_message.AsMemory(length), token).ConfigureAwait(false);
                    length += result.Count;
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);
            }
            catch (WebSocketException exception)
            {
                throw new IOException($"The port-forward to {_target} broke: {exception.Message}", exception);
            }

            if (result.MessageType == WebSocketMessageType.Close)
            {
                ThrowIfError();
                return false;
            }

            if (length == 0)
            {
                continue;
            }

            int start = 1;
            int payload = length - 1;
            if (_message[0] == DataChannel)
            {
                int skip = Math.Min(_dataPrefixLeft, payload);
                _dataPrefixLeft -= skip;
                if (payload - skip > 0)
                {
                    _offset = start + skip;
                    _count = payload - skip;
                    return true;
                }
            }
            else if (_message[0] == ErrorChannel)
            {
                int skip = Math.Min(_errorPrefixLeft, payload);
                _errorPrefixLeft -= skip;
                _error.Append(Encoding.UTF8.GetString(_message, start + skip, payload - skip));
                ThrowIfError();
            }
        }
    }

    private void ThrowIfError()
    {
        if (_error.Length > 0)
        {
            throw new IOException($"The port-forward to {_target} failed: {_error}");
        }
    }
}
