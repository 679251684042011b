using System.Buffers.Binary;
using System.Text;
using Gadget.Agent.Containers;
using Gadget.Agent.Decoding;
using Gadget.Bpf;
using Gadget.Protocol.V1;
using Gadget.Schema;

namespace Gadget.Agent.Gadgets;

/// <summary>
/// The socket snapshot (bpf/socket). A socket iterator sees only the network namespace its reader
/// opened it in, so the iterators run once in every namespace that has a process. A socket does not
/// know which process holds it: each record gets its owner from the processes' open files, as
/// ss -p finds it, or, without one, the mount namespace of a process of its network namespace, so
/// that a container's sockets still carry its pod.
/// </summary>
internal sealed class SocketGadget : GadgetHook
{
    public override RecordHook CreateRecordHook(TraceRequest request, TraceSchema schema, BpfObject bpf)
    {
        BtfStruct entry = bpf.FindStruct("socket_entry") ?? throw new GadgetObjectException("The socket program has no struct socket_entry.");
        BtfStruct process = bpf.FindStruct("gadget_process") ?? throw new GadgetObjectException("The socket program has no struct gadget_process.");
        int proc = entry["proc"].Offset;
        var layout = new RecordLayout(
            entry.Size,
            entry["inode"].Offset,
            proc + process["pid"].Offset,
            proc + process["tid"].Offset,
            proc + process["ppid"].Offset,
            proc + process["gid"].Offset,
            proc + process["mntns_id"].Offset,
            proc + process["netns_id"].Offset,
            proc + process["comm"].Offset,
            process["comm"].Size);
        return new OwnerHook(layout, request.Filter);
    }

    internal sealed record RecordLayout(int Size, int Inode, int Pid, int Tid, int Ppid, int Gid, int MountNs, int NetNs, int Comm, int CommSize);

    /// <summary>One snapshot's owners: read from /proc once, before the first iterator runs.</summary>
    internal sealed class OwnerHook(RecordLayout layout, ProcessFilter? filter) : RecordHook
    {
        private readonly HashSet<uint> _pids = filter is null ? [] : [.. filter.Pids, .. filter.Pid != 0 ? new[] { filter.Pid } : []];
        private readonly string _comm = filter?.Comm ?? string.Empty;
        private SocketOwners? _owners;

        public override IEnumerable<byte[]> RunIterators(BpfObject bpf, IReadOnlyList<string> programs, int maxBytes)
        {
            _owners ??= SocketOwners.Scan();
            int written = 0;
            foreach ((ulong netNs, List<int> members) in _owners.NetworkNamespaces)
            {
                // One entry into the namespace runs every iterator; should its process have exited, another of it.
                foreach (int pid in members)
                {
                    if (NetworkNamespace.TryRunIn(pid, netNs, () => RunAll(bpf, programs, maxBytes - written), out List<byte[]> outputs))
                    {
                        foreach (byte[] records in outputs)
                        {
                            FillOwners(records, netNs);
                            written += records.Length;
                            yield return records;
                        }

                        break;
                    }
                }
            }
        }

        private static List<byte[]> RunAll(BpfObject bpf, IReadOnlyList<string> programs, int maxBytes)
        {
            var outputs = new List<byte[]>(programs.Count);
            foreach (string program in programs)
            {
                byte[] records = bpf.RunIterator(program, maxBytes);
                maxBytes -= records.Length;
                outputs.Add(records);
            }

            return outputs;
        }

        /// <summary>Writes each record's owner, or its namespace's mount namespace where no process holds it.</summary>
        internal void FillOwners(Span<byte> records, ulong netNs)
        {
            SocketOwner? member = _owners!.MemberOf(netNs);
            for (int offset = 0; offset + layout.Size <= records.Length; offset += layout.Size)
            {
                Span<byte> record = records.Slice(offset, layout.Size);
                ulong inode = BinaryPrimitives.ReadUInt64LittleEndian(record[layout.Inode..]);
                if (_owners.OwnerOf(inode) is SocketOwner owner)
                {
                    BinaryPrimitives.WriteInt32LittleEndian(record[layout.Pid..], owner.Pid);
                    BinaryPrimitives.WriteInt32LittleEndian(record[layout.Tid..], owner.Pid);
                    BinaryPrimitives.WriteInt32LittleEndian(record[layout.Ppid..], owner.Ppid);
                    BinaryPrimitives.WriteUInt32LittleEndian(record[layout.Gid..], owner.Gid);
                    BinaryPrimitives.WriteUInt64LittleEndian(record[layout.MountNs..], owner.MountNs);
                    Span<byte> comm = record.Slice(layout.Comm, layout.CommSize);
                    comm.Clear();
                    owner.Comm.AsSpan(0, Math.Min(owner.Comm.Length, layout.CommSize - 1)).CopyTo(comm);
                }
                else if (member is not null)
                {
                    BinaryPrimitives.WriteUInt64LittleEndian(record[layout.MountNs..], member.MountNs);
                }
            }
        }

        /// <summary>-Pid and -Comm: the kernel cannot check them, as only the agent knows a socket's owner.</summary>
        public override bool Complete(ReadOnlySpan<byte> record, RowWriter row)
        {
            if (_pids.Count > 0 && !_pids.Contains(BinaryPrimitives.ReadUInt32LittleEndian(record[layout.Pid..])))
            {
                return false;
            }

            if (_comm.Length > 0)
            {
                ReadOnlySpan<byte> comm = record.Slice(layout.Comm, layout.CommSize);
                int end = comm.IndexOf((byte)0);
                return Encoding.UTF8.GetString(end < 0 ? comm : comm[..end]) == _comm;
            }

            return true;
        }
    }
}
