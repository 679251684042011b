namespace Gadget.Connection;

/// <summary>
/// The byte stream under an agent connection, with a deadline on every read. The client pings the
/// agent whenever the connection has been quiet (HTTP/2 PING, which a live agent's server answers
/// whatever its gadgets are doing), so a read that waits longer than the deadline means the agent
/// is stopped (SIGSTOP), hung, or not an agent at all. The read then fails with an
/// <see cref="IOException"/> whose inner exception is an AgentUnresponsive <see cref="GadgetException"/>,
/// which <see cref="RpcErrors"/> reports as it is.
/// </summary>
internal sealed class DeadlineStream(Stream inner, string target, TimeSpan readTimeout) : Stream
{
    private CancellationTokenSource _deadline = new();

    public override bool CanRead => inner.CanRead;

    public override bool CanWrite => inner.CanWrite;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        // One read at a time (the HTTP/2 connection's reader): the source is reused, not allocated per read.
        if (!_deadline.TryReset())
        {
            _deadline.Dispose();
            _deadline = new CancellationTokenSource();
        }

        _deadline.CancelAfter(readTimeout);
        using CancellationTokenSource? linked = cancellationToken.CanBeCanceled
            ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _deadline.Token)
            : null;
        try
        {
            return await inner.ReadAsync(buffer, linked?.Token ?? _deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw Unresponsive(target, readTimeout);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => inner.WriteAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.WriteAsync(buffer, offset, count, cancellationToken);

    public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override void Flush() => inner.Flush();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>The failure of an agent that did not answer within <paramref name="timeout"/>.</summary>
    internal static IOException Unresponsive(string target, TimeSpan timeout, string what = "answered nothing")
    {
        var exception = new GadgetException(GadgetErrorId.AgentUnresponsive, GadgetErrorKind.Timeout,
            $"The agent at {target} {what} for {timeout.TotalSeconds:0} s: it is stopped (SIGSTOP), hung, or not a Gadget agent.")
        {
            RecommendedAction = "Check the agent's process (its state in ps, a debugger attached to it), or restart it.",
        };
        return new IOException(exception.Message, exception);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
            _deadline.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync().ConfigureAwait(false);
        _deadline.Dispose();
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
