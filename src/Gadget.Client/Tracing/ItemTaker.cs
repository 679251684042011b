namespace Gadget.Tracing;

/// <summary>
/// Takes a trace queue's items one by one for the pipeline thread. Readers queue events a chunk
/// (<see cref="GadgetEvent"/>[]) per slot, a lock and a wake-up per chunk; this opens the chunks.
/// </summary>
/// <remarks>Call from one thread at a time.</remarks>
internal sealed class ItemTaker(ItemQueue queue)
{
    private GadgetEvent[]? _chunk;
    private int _chunkNext;

    /// <summary>True once the queue is completed and every item, every chunk's too, was taken.</summary>
    public bool IsCompleted => _chunk is null && queue.IsCompleted;

    /// <summary>The next item, waiting up to <paramref name="timeout"/> for a slot; as <see cref="ItemQueue.TryTake"/>.</summary>
    public bool TryTake(out object? item, TimeSpan timeout, CancellationToken token)
    {
        if (_chunk is not null)
        {
            item = _chunk[_chunkNext++];
            if (_chunkNext == _chunk.Length)
            {
                _chunk = null;
            }

            return true;
        }

        if (!queue.TryTake(out item, timeout, token))
        {
            return false;
        }

        if (item is GadgetEvent[] chunk)
        {
            item = chunk[0];
            if (chunk.Length > 1)
            {
                _chunk = chunk;
                _chunkNext = 1;
            }
        }

        return true;
    }
}
