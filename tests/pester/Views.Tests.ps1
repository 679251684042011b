#Requires -Version 7.6
# The table views of every event type, at the widths people's terminals have: key columns first,
# headers whole, no line wider than the terminal, and the pod view beside each default view.
# The rows are the widest values each column meets (a 7-digit pid, a 15-byte comm, a long name),
# given the event's type name, so every gadget's view is checked without tracing.
param([string] $ModulePath = $env:GADGET_MODULE_PATH)

BeforeDiscovery {
    # Per event type: a row of its widest values, the default view's headers in order, and the
    # headers a terminal of 80 columns still shows (the key columns: time, process, then what the
    # gadget is about).
    $time = [datetime]::new(2026, 12, 4, 23, 59, 58, 123, [DateTimeKind]::Local)
    $process = @{ Timestamp = $time; Pid = 4194304; Tid = 4194303; Ppid = 4194302; Uid = 4294967294; Comm = 'isc-net-0000abc'; Namespace = 'kube-system'; Pod = 'coredns-5d78c9869d-abcde'; Container = 'coredns-container' }
    function New-Row([string] $Type, [hashtable] $Values) {
        $row = [ordered]@{ PSTypeName = "Gadget.$Type" }
        foreach ($key in $process.Keys) { $row[$key] = $process[$key] }
        foreach ($key in $Values.Keys) { $row[$key] = $Values[$key] }
        [pscustomobject]$row
    }

    $script:Views = @(
        @{ Type = 'ExecEvent'; Headers = 'TIME', 'PID', 'PPID', 'UID', 'COMM', 'ERR', 'ARGS'; At80 = 'TIME', 'PID', 'PPID', 'UID', 'COMM', 'ERR', 'ARGS'
           Row = New-Row ExecEvent @{ Error = 'ENOENT'; Args = '/usr/bin/python3 -c "import time; time.sleep(100)" --a-long-argument-that-goes-on' } }
        @{ Type = 'OpenEvent'; Headers = 'TIME', 'PID', 'COMM', 'ERR', 'FLAGS', 'PATH'; At80 = 'TIME', 'PID', 'COMM', 'ERR', 'FLAGS', 'PATH'
           Row = New-Row OpenEvent @{ Error = 'ENOENT'; FlagsText = 'O_RDONLY|O_CLOEXEC'; Path = '/etc/resolv.conf'; FullPath = $null } }
        @{ Type = 'DnsEvent'; Headers = 'TIME', 'PID', 'COMM', 'QR', 'QTYPE', 'NAME', 'RCODE', 'ANS', 'LATENCY', 'NAMESERVER'; At80 = 'TIME', 'PID', 'COMM', 'QR', 'QTYPE', 'NAME', 'RCODE'
           Row = New-Row DnsEvent @{ Qr = 'Response'; QType = 'AAAA'; Name = 'my-service.my-namespace.svc.cluster.local.'; Rcode = 'NoResponse'; NumAnswers = 60; Latency = [timespan]::FromMilliseconds(4999.999); Nameserver = [ipaddress]'10.96.0.10' } }
        @{ Type = 'SignalEvent'; Headers = 'TIME', 'PID', 'COMM', 'SIGNAL', 'TPID', 'TCOMM', 'RESULT'; At80 = 'TIME', 'PID', 'COMM', 'SIGNAL', 'TPID', 'TCOMM'
           Row = New-Row SignalEvent @{ Signal = 'SIGKILL'; TargetPid = 4194301; TargetComm = 'some-long-name1'; Result = 'ESRCH' } }
        @{ Type = 'TcpEvent'; Headers = 'TIME', 'PID', 'COMM', 'TYPE', 'SOURCE', 'DESTINATION', 'ERROR'; At80 = 'TIME', 'PID', 'COMM', 'TYPE'
           Row = New-Row TcpEvent @{ Type = 'Connect'; Source = [ipendpoint]::Parse('192.168.100.200:54321'); Destination = [ipendpoint]::Parse('192.168.100.201:443'); Error = 'ECONNREFUSED' } }
        @{ Type = 'BindEvent'; Headers = 'TIME', 'PID', 'COMM', 'PROTO', 'ADDRESS', 'ERROR', 'OPTIONS'; At80 = 'TIME', 'PID', 'COMM', 'PROTO'
           Row = New-Row BindEvent @{ Protocol = 'Tcp'; Address = [ipendpoint]::Parse('0.0.0.0:8080'); Options = 'ReuseAddress'; Error = 'EADDRINUSE' } }
        @{ Type = 'MountEvent'; Headers = 'TIME', 'PID', 'COMM', 'CALL', 'ERROR', 'SOURCE', 'TARGET', 'TYPE', 'FLAGS'; At80 = 'TIME', 'PID', 'COMM', 'CALL', 'ERROR'
           Row = New-Row MountEvent @{ Call = 'Mount'; Source = 'overlay'; Target = '/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs'; FsType = 'overlay'; Flags = 'MS_NOSUID'; UmountFlags = $null; Error = 'EPERM' } }
        @{ Type = 'OomKillEvent'; Headers = 'TIME', 'PID', 'COMM', 'ANON-RSS\(MB\)', 'TOTAL-VM\(MB\)', 'TPID', 'TCOMM'; At80 = 'TIME', 'PID', 'COMM', 'ANON-RSS\(MB\)', 'TOTAL-VM\(MB\)'
           Row = New-Row OomKillEvent @{ AnonRss = 31457280L; TotalVm = 214748364L; TriggerPid = 4194300; TriggerComm = 'python3' } }
        @{ Type = 'CapabilitiesEvent'; Headers = 'TIME', 'PID', 'COMM', 'CAPABILITY', 'VERDICT', 'SYSCALL'; At80 = 'TIME', 'PID', 'COMM', 'CAPABILITY', 'VERDICT'
           Row = New-Row CapabilitiesEvent @{ Capability = 'CAP_DAC_READ_SEARCH'; Granted = $false; Verdict = 'Deny'; Syscall = 257 } }
        @{ Type = 'SocketEntry'; Headers = 'TIME', 'PID', 'COMM', 'PROTO', 'STATE', 'LOCAL', 'REMOTE'; At80 = 'TIME', 'PID', 'COMM', 'PROTO', 'STATE'
           Row = New-Row SocketEntry @{ Protocol = 'Tcp'; State = 'Established'; Local = [ipendpoint]::Parse('[fd00:1234:5678:9abc::10]:65535'); Remote = [ipendpoint]::Parse('[fd00:1234:5678:9abc::11]:65535') } }
    )
}

BeforeAll {
    Import-Module (Join-Path $ModulePath 'Gadget.psd1') -Force
    $script:Ansi = "\x1b\[[0-9;]*m"

    function Get-TableLine {
        # The lines of a table as a terminal of $Width columns prints it (ANSI colours removed).
        param($Row, [int] $Width, [string] $View)
        $table = if ($View) { $Row | Format-Table -View $View } else { $Row | Format-Table }
        @(($table | Out-String -Width $Width) -replace $Ansi -split "`r?`n" | Where-Object { $_.Trim() })
    }

    function Assert-Table {
        # Headers in order, each whole, every line within the width, one row under the header.
        param([string[]] $Lines, [string[]] $Headers, [int] $Width)
        $Lines.Count | Should -Be 3 -Because "a header, its underline and one row: $($Lines -join ' / ')"
        $Lines[0] | Should -Match ('^\s*' + ($Headers -join '\s+') + '(\s|$)')
        $Lines[0] | Should -Not -Match '…'
        $Lines[1] | Should -Not -Match '…'
        foreach ($line in $Lines) { $line.TrimEnd().Length | Should -BeLessOrEqual $Width }
    }
}

Describe 'The view of <Type>' -ForEach $Views {
    It 'shows every key column whole, in order, within 120 columns' {
        $lines = Get-TableLine $Row 120
        Assert-Table $lines $Headers 120
        $lines[0] | Should -Not -Match '\b(NAMESPACE|POD|NODE|CONTAINER)\b' -Because 'pod identity is in the pod view'
    }

    It 'shows time, process and what the gadget is about within 80 columns' {
        $lines = Get-TableLine $Row 80
        Assert-Table $lines $At80 80
    }

    It 'has a pod view: time, namespace, pod and container, then the default columns that fit 120' {
        $lines = Get-TableLine $Row 120 -View pod
        Assert-Table $lines ('TIME', 'NAMESPACE', 'POD', 'CONTAINER') 120
        $lines[2] | Should -Match 'kube-system'
        $lines[2] | Should -Match 'coredns-5d78c9869d-abcde'
    }

    It 'prints the local time with milliseconds first' {
        (Get-TableLine $Row 120)[2] | Should -Match '^23:59:58\.123\s'
    }
}

Describe 'The generator' {
    It 'writes a fixed width for every column but the last of every table view' {
        $xml = [xml](Get-Content (Join-Path $ModulePath 'Gadget.Events.Format.ps1xml') -Raw)
        foreach ($view in $xml.Configuration.ViewDefinitions.View | Where-Object { $_['TableControl'] }) {
            $headers = @($view.TableControl.TableHeaders.TableColumnHeader)
            # A header without a Width element has no Width property: read the element, not the property.
            $widths = @($headers | ForEach-Object { if ($_['Width']) { [int]$_['Width'].InnerText } else { $null } })
            for ($i = 0; $i -lt $headers.Count - 1; $i++) {
                $widths[$i] | Should -Not -BeNullOrEmpty -Because "$($view.Name): $($headers[$i]['Label'].InnerText)"
            }
            # A last column without a width takes what is left, at least 10 of the 120.
            $last = if ($null -ne $widths[-1]) { $widths[-1] } else { 10 }
            $width = ($widths | Select-Object -SkipLast 1 | Measure-Object -Sum).Sum + $last + $headers.Count - 1
            $width | Should -BeLessOrEqual 120 -Because "$($view.Name) of $($view.ViewSelectedBy.TypeName) fits 120 columns"
        }
    }
}
