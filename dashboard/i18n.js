// Every string the pages show, from one locale table: Simplified Chinese by default, English as a switch (kept in
// localStorage per browser). Dates in the deployment's time zone (the hub's `timezone`, from /api/console), 24-hour.
// Domain words (states, severities, categories, stages, actions, audit actions, error codes) are looked up by the
// code the server sends; an incident's title by its event type, the rule's own title when the table has none.

const languageKey = 'gridhub.language';
export const languages = { 'zh-CN': '中文', en: 'English' };

const zh = {
  'app.officer': '值班指挥台',
  'app.worker': '我的任务',
  'login.username': '用户名',
  'login.password': '密码',
  'login.submit': '登录',
  'login.tokenInstead': '改用 API 令牌',
  'login.token': 'API 令牌',
  'login.useToken': '使用令牌',
  'login.example.officer': '例如 officer-xijiao',
  'login.example.worker': '例如 worker-xijiao-01',
  logout: '退出',
  language: '语言',
  loading: '加载中…',
  'status.connecting': '连接中…',
  'status.syncing': '同步中…',
  'status.live': '实时',
  'status.offline': '离线',
  'status.offlineBecause': '离线：{reason}',
  'status.reconnecting': '离线，正在重连…',
  unacknowledged: '未确认',
  jurisdiction: '辖区',
  map: '网格地图',
  'map.reset': '复位',
  'map.label': '网格地图',
  devices: '设备',
  alarms: '告警',
  'alarms.label': '告警列表',
  'filter.allStates': '全部状态',
  'filter.open': '未结',
  'filter.allSeverities': '全部等级',
  'filter.allCategories': '全部类别',
  'filter.allGrids': '全部网格',
  'filter.state': '状态',
  'filter.severity': '等级',
  'filter.category': '类别',
  'filter.node': '网格',
  'filter.device': '设备：{name}',
  selectAlarm: '请选择一条告警。',
  acknowledgedBadge: '已确认',
  'field.grid': '网格',
  'field.responsible': '责任中心',
  'field.escalated': '（已上报 {count} 次，下一级：{next}）',
  'field.escalatedTop': '（已上报 {count} 次，已到最高级）',
  'field.nextLevel': '上报至：{next}',
  'field.device': '设备',
  'field.created': '发生时间',
  'field.occurrences': '次数',
  'field.acknowledged': '确认',
  'field.assignees': '处置人',
  'field.handler': '接单人',
  'field.due': '时限',
  'field.resolution': '处置结果',
  'field.supervisions': '督办',
  timeline: '处置记录',
  note: '备注',
  'note.reason': '原因（误报、退回和督办必填）',
  'note.add': '添加备注',
  'note.worker': '处置说明',
  'note.required': '{action}需要填写原因',
  worker: '处置人员',
  refused: '{action}未成功：{message}',
  online: '在线',
  offline: '离线',
  disabled: '已停用',
  lastSeen: '最后在线 {time}',
  'due.left': '{stage}剩余 {time}',
  'due.over': '{stage}已超时 {time}',
  'due.none': '—',
  'duration.hms': '{h}小时{m}分',
  'duration.ms': '{m}分{s}秒',
  'duration.s': '{s}秒',
  'assessment.title': '考核统计',
  'assessment.show': '查询',
  'assessment.from': '开始日期',
  'assessment.to': '结束日期',
  'assessment.all': '合计',
  'assessment.grid': '网格',
  'assessment.incidents': '事件数',
  'assessment.closed': '已结案',
  'assessment.falseAlarms': '误报',
  'assessment.onTimeAccept': '按时接单率',
  'assessment.onTimeClose': '按时结案率',
  'assessment.p50Response': '响应时间中位数',
  'assessment.legend': '长条：事件数 · 内条：已结案',
  'assessment.chart': '各网格事件数与结案数',
  'assessment.seconds': '{s}秒',
  'assessment.supervised': '督办',
  'assessment.worker': '网格员',
  'assessment.workers': '网格员考核',
  'worker.none': '暂无任务',
  'worker.offlineArrivals': '离线期间收到 {count} 个新任务',
  'worker.label': '我的任务',
  // The worker's installable app (docs/worker-app.md): offline tasks, the action queue, the remembered phone, push.
  'login.remember': '记住此手机',
  'offline.since': '离线 · 截至 {time}',
  'offline.nothing': '离线 · 此手机没有保存的任务',
  'outbox.pending': '待发送：{action}（{taken} 操作）',
  'outbox.sent': '已发送：{action}（{taken} 操作），现为{state}',
  'outbox.refused': '{action}（{taken} 操作）未成功：{reason}；{now}',
  'outbox.nowState': '案件现为“{state}”',
  'outbox.notYours': '案件已不在您的任务中',
  'outbox.dropped': '未发送：{action}（{taken} 操作），因同一案件的前一操作未成功',
  'outbox.droppedNote': '；备注：{note}',
  'outbox.dismiss': '知道了',
  'push.off': '开启通知',
  'push.working': '正在开启…',
  'push.on': '已开启通知',
  'push.denied': '通知已被禁止',
  'push.failed': '开启通知失败，重试',
  snapshot: '{camera} 抓拍',
  clip: '{camera} 录像',
  'storm.title': '{grid}告警风暴',
  'view.queue': '待处理',
  'view.mine': '本中心负责',
  'view.verify': '待核查',
  'view.overdue': '已超时',
  'view.info': '提示',
  'feed.waiting': '{count} 条新告警，移开指针后显示',
  'feed.previous': '上一页',
  'feed.next': '下一页',
  'feed.page': '第 {page} / {pages} 页',
  'field.onDuty': '当班',
  'field.centreDuty': '中心值班',
  'picker.worker': '{name} · {duty} · 在办 {load}',
  'picker.onDuty': '值班中',
  'picker.offDuty': '不在班',
  wall: '大屏',
  'kind.gate': '门禁',
  'kind.sentry': '岗亭/报警主机',
  'kind.camera': '摄像机',
  'live.watch': '实时视频：{camera}',
  'live.title': '{camera} 实时',
  'live.preset': '转到预置位 {preset}',
  'attention.mute': '静音',
  'attention.unmute': '取消静音',
  'attention.notify': '桌面通知',
  'attention.new': '新告警：{title}，{severity}，{grid}，{device}',
  // Worker positions (#24).
  'position.share': '共享我的位置',
  'position.waiting': '正在定位…',
  'position.sent': '已共享位置（{time}）',
  'position.poor': '定位精度不足，等待更准确的定位',
  'position.outside': '当前位置不在辖区内，未共享',
  'position.denied': '未允许使用定位，已停止共享',
  'position.unavailable': '暂时无法定位',
  'position.unsupported': '此浏览器不支持定位',
  'position.stopped.offShift': '当前不在班次内，已停止共享位置',
  'position.stopped.notShared': '位置共享未开启，已停止共享',
  'position.stopped.loggedOut': '已退出登录，已停止共享位置',
  'position.justNow': '刚刚',
  'position.minutesAgo': '{minutes}分钟前',
  'position.accuracy': '精度约 {metres} 米',
  'layer.grids': '网格',
  'layer.devices': '设备',
  'layer.workers': '在岗网格员',
  // Field work (#24): task cards, arrival, uploads, rework.
  'arrival.label': '到达位置',
  'arrival.near': '距设备 {distance} 米（定位精度 ±{accuracy} 米）',
  'arrival.far': '距设备 {distance} 米，超出范围（定位精度 ±{accuracy} 米）',
  'arrival.farBadge': '到达位置偏远',
  'arrival.locating': '正在定位…',
  'arrival.noPosition': '未能定位，仍记录到达',
  'upload.photo': '{stage}照片 · {user}',
  'upload.video': '{stage}视频 · {user}',
  'upload.before': '处置前',
  'upload.after': '处置后',
  'upload.take': '拍照/录像',
  'upload.stage': '照片阶段',
  'upload.progress': '上传中 {percent}%',
  'upload.done': '已上传',
  'upload.failed': '上传失败：{message}',
  'task.address': '地址',
  'task.grid': '网格',
  'task.map': '设备位置地图',
  'task.navigate': '导航',
  'nav.amap': '高德地图',
  'nav.baidu': '百度地图',
  'nav.geo': '系统地图',
  'task.returned': '退回意见：{note}（{user}，{time}）',
  'task.rework': '返工 ×{count}',
  'task.awaiting': '待核查，可补充照片',
  // Cases from people (#25): 随手拍, 登记, procedures.
  'cases.report': '随手拍',
  'cases.register': '登记',
  'cases.category': '类别',
  'cases.subcategory': '小类',
  'cases.noSubcategory': '（不选小类）',
  'cases.description': '问题描述',
  'cases.path': '处置方式',
  'cases.path.on_spot': '一般性：当场处置并记录',
  'cases.path.coordinate': '需要协调：带回社区受理中心',
  'cases.path.urgent': '突发性：立即上报，现场跟踪',
  'cases.path.approval': '需要审批：逐级报批',
  'cases.note': '处置情况（当场处置时必填）',
  'cases.grid': '网格',
  'cases.gridByPosition': '按手机位置自动定网格',
  'cases.positionPending': '正在获取位置…',
  'cases.positionAt': '已定位（精度约 {accuracy} 米）',
  'cases.positionNone': '无法定位：请选择网格',
  'cases.photos': '照片',
  'cases.submit': '提交',
  'cases.close': '关闭',
  'cases.reported': '已上报：{title}',
  'cases.source': '来源',
  'cases.source.phone': '电话',
  'cases.source.walk_in': '来访',
  'cases.source.resident': '居民反映',
  'cases.source.hotline_12345': '12345工单',
  'cases.source.wechat': '微信',
  'cases.reporterName': '反映人姓名（可选）',
  'cases.reporterPhone': '联系电话（可选，仅处置人可见）',
  'cases.address': '地址',
  'cases.procedure': '处置预案',
};

const en = {
  'app.officer': 'Duty officer console',
  'app.worker': 'My tasks',
  'login.username': 'Username',
  'login.password': 'Password',
  'login.submit': 'Log in',
  'login.tokenInstead': 'API token instead',
  'login.token': 'API token',
  'login.useToken': 'Use token',
  'login.example.officer': 'e.g. officer-xijiao',
  'login.example.worker': 'e.g. worker-xijiao-01',
  logout: 'Log out',
  language: 'Language',
  loading: 'Loading…',
  'status.connecting': 'connecting…',
  'status.syncing': 'syncing…',
  'status.live': 'live',
  'status.offline': 'offline',
  'status.offlineBecause': 'offline: {reason}',
  'status.reconnecting': 'offline, reconnecting…',
  unacknowledged: 'unacknowledged',
  jurisdiction: 'Jurisdiction',
  map: 'Map',
  'map.reset': 'reset',
  'map.label': 'grid map',
  devices: 'Devices',
  alarms: 'Alarms',
  'alarms.label': 'alarm feed',
  'filter.allStates': 'all states',
  'filter.open': 'open',
  'filter.allSeverities': 'all severities',
  'filter.allCategories': 'all categories',
  'filter.allGrids': 'all grids',
  'filter.state': 'state',
  'filter.severity': 'severity',
  'filter.category': 'category',
  'filter.node': 'grid',
  'filter.device': 'device: {name}',
  selectAlarm: 'Select an alarm.',
  acknowledgedBadge: 'acknowledged',
  'field.grid': 'Grid',
  'field.responsible': 'Responsible',
  'field.escalated': ' (escalated ×{count}, next level: {next})',
  'field.escalatedTop': ' (escalated ×{count}, at the top level)',
  'field.nextLevel': 'escalates to: {next}',
  'field.device': 'Device',
  'field.created': 'Occurred',
  'field.occurrences': 'Occurrences',
  'field.acknowledged': 'Acknowledged',
  'field.assignees': 'Assignees',
  'field.handler': 'Handler',
  'field.due': 'Due',
  'field.resolution': 'Resolution',
  'field.supervisions': 'Supervision',
  timeline: 'Timeline',
  note: 'note',
  'note.reason': 'reason (required for a false alarm, a rejection and supervision)',
  'note.add': 'Add note',
  'note.worker': 'what was done',
  'note.required': '{action} needs a reason',
  worker: 'worker',
  refused: '{action} refused: {message}',
  online: 'online',
  offline: 'offline',
  disabled: 'disabled',
  lastSeen: 'last seen {time}',
  'due.left': '{stage}: {time} left',
  'due.over': '{stage}: {time} overdue',
  'due.none': '—',
  'duration.hms': '{h} h {m} min',
  'duration.ms': '{m} min {s} s',
  'duration.s': '{s} s',
  'assessment.title': 'Assessment',
  'assessment.show': 'Show',
  'assessment.from': 'from',
  'assessment.to': 'to',
  'assessment.all': 'All',
  'assessment.grid': 'Grid',
  'assessment.incidents': 'Incidents',
  'assessment.closed': 'Closed',
  'assessment.falseAlarms': 'False alarms',
  'assessment.onTimeAccept': 'On-time accept',
  'assessment.onTimeClose': 'On-time close',
  'assessment.p50Response': 'p50 response',
  'assessment.legend': 'bar: incidents · inner bar: closed',
  'assessment.chart': 'incidents and closed per grid',
  'assessment.seconds': '{s} s',
  'assessment.supervised': 'Supervised',
  'assessment.worker': 'Worker',
  'assessment.workers': 'Per worker',
  'worker.none': 'No open task',
  'worker.offlineArrivals': '{count} new task(s) arrived while you were offline',
  'worker.label': 'my tasks',
  'login.remember': 'Remember this phone',
  'offline.since': 'Offline · as of {time}',
  'offline.nothing': 'Offline · no tasks kept on this phone',
  'outbox.pending': 'To send: {action} (taken {taken})',
  'outbox.sent': 'Sent: {action} (taken {taken}), now {state}',
  'outbox.refused': '{action} (taken {taken}) refused: {reason}; {now}',
  'outbox.nowState': 'the case is now {state}',
  'outbox.notYours': 'the case is no longer among your tasks',
  'outbox.dropped': 'Not sent: {action} (taken {taken}), since the earlier action on this case was refused',
  'outbox.droppedNote': '; note: {note}',
  'outbox.dismiss': 'Got it',
  'push.off': 'Turn on notifications',
  'push.working': 'Turning on…',
  'push.on': 'Notifications on',
  'push.denied': 'Notifications blocked',
  'push.failed': 'Notifications failed: retry',
  snapshot: 'snapshot, {camera}',
  clip: 'clip, {camera}',
  'storm.title': 'Alarm storm in {grid}',
  'view.queue': 'Queue',
  'view.mine': 'My centre',
  'view.verify': 'To verify',
  'view.overdue': 'Overdue',
  'view.info': 'Info',
  'feed.waiting': '{count} new, shown when the pointer leaves',
  'feed.previous': 'Previous',
  'feed.next': 'Next',
  'feed.page': 'page {page} of {pages}',
  'field.onDuty': 'On duty',
  'field.centreDuty': 'Centre on duty',
  'picker.worker': '{name} · {duty} · {load} open',
  'picker.onDuty': 'on duty',
  'picker.offDuty': 'off duty',
  wall: 'Wall',
  'kind.gate': 'gate',
  'kind.sentry': 'sentry box / alarm panel',
  'kind.camera': 'camera',
  'live.watch': 'Live: {camera}',
  'live.title': '{camera}, live',
  'live.preset': 'Go to preset {preset}',
  'attention.mute': 'Mute',
  'attention.unmute': 'Unmute',
  'attention.notify': 'Desktop notifications',
  'attention.new': 'New alarm: {title}, {severity}, {grid}, {device}',
  // Worker positions (#24).
  'position.share': 'Share my position',
  'position.waiting': 'Locating…',
  'position.sent': 'Position shared ({time})',
  'position.poor': 'Position not accurate enough: waiting for a better fix',
  'position.outside': 'Your position is outside the jurisdiction: not shared',
  'position.denied': 'Location not allowed: sharing stopped',
  'position.unavailable': 'Position unavailable for now',
  'position.unsupported': 'This browser cannot give a position',
  'position.stopped.offShift': 'You are not on a shift now: sharing stopped',
  'position.stopped.notShared': 'Position sharing is off: sharing stopped',
  'position.stopped.loggedOut': 'Logged out: sharing stopped',
  'position.justNow': 'just now',
  'position.minutesAgo': '{minutes} min ago',
  'position.accuracy': 'accurate to about {metres} m',
  'layer.grids': 'Grids',
  'layer.devices': 'Devices',
  'layer.workers': 'Workers on duty',
  // Field work (#24): task cards, arrival, uploads, rework.
  'arrival.label': 'Arrival',
  'arrival.near': '{distance} m from the device (accuracy ±{accuracy} m)',
  'arrival.far': '{distance} m from the device, out of range (accuracy ±{accuracy} m)',
  'arrival.farBadge': 'arrived far away',
  'arrival.locating': 'Locating…',
  'arrival.noPosition': 'No position: arrival recorded without it',
  'upload.photo': '{stage} photo · {user}',
  'upload.video': '{stage} video · {user}',
  'upload.before': 'Before',
  'upload.after': 'After',
  'upload.take': 'Photo / video',
  'upload.stage': 'Stage',
  'upload.progress': 'Uploading {percent}%',
  'upload.done': 'Uploaded',
  'upload.failed': 'Upload failed: {message}',
  'task.address': 'Address',
  'task.grid': 'Grid',
  'task.map': "The device's place on the map",
  'task.navigate': 'Navigate',
  'nav.amap': 'AMap',
  'nav.baidu': 'Baidu Maps',
  'nav.geo': 'Maps app',
  'task.returned': 'Returned: {note} ({user}, {time})',
  'task.rework': 'Rework ×{count}',
  'task.awaiting': 'Awaiting verification: photos can be added',
  // Cases from people (#25): field reports, registration, procedures.
  'cases.report': 'Report',
  'cases.register': 'Register',
  'cases.category': 'Category',
  'cases.subcategory': 'Sub-category',
  'cases.noSubcategory': '(no sub-category)',
  'cases.description': 'Description',
  'cases.path': 'Handling',
  'cases.path.on_spot': 'Routine: handled on the spot and recorded',
  'cases.path.coordinate': 'Needs coordination: to the community centre',
  'cases.path.urgent': 'Urgent: report now, track on site',
  'cases.path.approval': 'Needs approval: up the chain',
  'cases.note': 'What was done (required on the spot)',
  'cases.grid': 'Grid',
  'cases.gridByPosition': "By the phone's position",
  'cases.positionPending': 'Locating…',
  'cases.positionAt': 'Located (±{accuracy} m)',
  'cases.positionNone': 'No position: choose the grid',
  'cases.photos': 'Photos',
  'cases.submit': 'Submit',
  'cases.close': 'Close',
  'cases.reported': 'Reported: {title}',
  'cases.source': 'Source',
  'cases.source.phone': 'Phone call',
  'cases.source.walk_in': 'Walk-in',
  'cases.source.resident': 'Resident',
  'cases.source.hotline_12345': '12345 work order',
  'cases.source.wechat': 'WeChat',
  'cases.reporterName': "Reporter's name (optional)",
  'cases.reporterPhone': 'Phone (optional, shown only to the handler)',
  'cases.address': 'Address',
  'cases.procedure': 'Procedure',
};

/** Domain codes as the server sends them → words, per language. */
const domain = {
  'zh-CN': {
    state: {
      new: '新告警',
      dispatched: '已派遣',
      accepted: '已接单',
      on_site: '已到场',
      escalated: '已上报',
      resolved: '已处置',
      closed: '已结案',
      false_alarm: '误报',
      cancelled: '已撤销',
    },
    severity: { critical: '紧急', major: '重要', warning: '警告', info: '提示' },
    category: {
      intrusion: '入侵',
      access_violation: '门禁违规',
      blacklist: '黑名单',
      emergency: '紧急求助',
      duty: '值守',
      motion: '移动侦测',
      device_tamper: '设备破坏',
      hazard: '安全隐患',
      device_fault: '设备故障',
      device_offline: '设备离线',
      power: '供电异常',
      storm: '告警风暴',
      fire: '火警',
    },
    stage: { accept: '接单', arrive: '到场', resolve: '处置' },
    action: {
      acknowledge: '确认',
      dispatch: '派遣',
      accept: '接单',
      arrive: '到场',
      resolve: '办结',
      verify: '核查结案',
      reject: '退回',
      escalate: '上报',
      false_alarm: '误报',
      cancel: '撤销',
      note: '备注',
      supervise: '督办',
      clear: '设备恢复',
      create: '立案',
      repeat: '重复告警',
      evidence: '取证',
      escalate_overdue: '超时上报',
    },
    role: {
      duty_officer: '值班员',
      admin: '管理员',
      grid_worker: '网格员',
      grid_chief: '网格长',
      integrator: '集成商',
      system: '系统',
    },
    error: {
      invalid_request: '请求无效',
      bad_request: '请求无法读取',
      no_session: 'API 令牌没有会话',
      unauthorized: '请重新登录',
      bad_credentials: '用户名或密码错误',
      forbidden: '您的角色无权执行此操作',
      not_found: '未找到',
      conflict: '已存在',
      illegal_transition: '当前状态不允许此操作',
      device_offline: '设备未连接',
      media_expired: '文件已按保存期限删除',
      range_not_satisfiable: '范围超出文件',
      too_many_attempts: '尝试次数过多，请稍后再试',
      idempotency_key_reused: '请求标识已用于另一操作',
      internal: '服务器内部错误',
      device_timeout: '设备未及时应答',
      position_sharing_off: '位置共享未开启',
      off_shift: '当前不在班次内',
      position_too_frequent: '发送过于频繁，请稍后',
      position_inaccurate: '定位精度不足',
      position_out_of_bounds: '位置不在辖区内',
      position_time_out_of_range: '定位时间无效',
      payload_too_large: '文件超过允许大小',
      unsupported_media_type: '文件类型不支持或与声明不符',
      too_many_uploads: '本案件上传数量已达上限',
    },
    event: {
      'door.forced_open': '门被强行打开',
      'door.held_open': '门长时间未关',
      'access.denied': '刷卡被拒',
      'access.anti_passback': '反潜回违规',
      'access.tailgating': '尾随进入',
      'access.blacklisted': '黑名单卡或车牌',
      'access.interlock': '互锁违规',
      'alarm.panic': '紧急按钮报警',
      'alarm.intrusion': '防区入侵报警',
      'alarm.fire': '火灾报警',
      'alarm.medical': '医疗求助',
      'alarm.environmental': '燃气、水浸或温度报警',
      'alarm.duress': '门禁胁迫码报警',
      'alarm.input': '报警输入触发',
      'alarm.general': '国标设备报警',
      'guard.check_in_missed': '岗亭值守漏签到',
      'camera.intrusion': '摄像机发现入侵',
      'camera.line_crossed': '越线',
      'camera.motion': '移动侦测',
      'camera.tamper': '摄像机被遮挡或破坏',
      'camera.person': '摄像机发现人员',
      'camera.vehicle': '摄像机发现车辆',
      'camera.hardware_failure': '摄像机硬件故障',
      'camera.video_lost': '摄像机视频丢失',
      'camera.object_left': '遗留物',
      'camera.object_removed': '物品被移走',
      'camera.loitering': '徘徊',
      'camera.crowd_density': '人员聚集',
      'camera.region_entered': '进入区域',
      'panel.trouble': '报警主机故障',
      'storage.failure': '录像机存储故障',
      'device.tamper': '设备被破坏',
      'device.offline': '设备离线',
      'power.mains_lost': '市电断电',
      'power.battery_low': '电池电量低',
    },
  },
  en: {
    state: {
      new: 'new',
      dispatched: 'dispatched',
      accepted: 'accepted',
      on_site: 'on site',
      escalated: 'escalated',
      resolved: 'resolved',
      closed: 'closed',
      false_alarm: 'false alarm',
      cancelled: 'cancelled',
    },
    severity: { critical: 'critical', major: 'major', warning: 'warning', info: 'info' },
    category: {
      intrusion: 'intrusion',
      access_violation: 'access violation',
      blacklist: 'blacklist',
      emergency: 'emergency',
      duty: 'guard duty',
      motion: 'motion',
      device_tamper: 'device tamper',
      hazard: 'hazard',
      device_fault: 'device fault',
      device_offline: 'device offline',
      power: 'power',
      storm: 'alarm storm',
      fire: 'fire',
    },
    stage: { accept: 'accept', arrive: 'arrive', resolve: 'resolve' },
    action: {
      acknowledge: 'Acknowledge',
      dispatch: 'Dispatch',
      accept: 'Accept',
      arrive: 'Arrive',
      resolve: 'Resolve',
      verify: 'Verify and close',
      reject: 'Reject',
      escalate: 'Escalate',
      false_alarm: 'False alarm',
      cancel: 'Cancel',
      note: 'Note',
      supervise: 'Supervise',
      clear: 'Cleared by the device',
      create: 'Raised',
      repeat: 'Repeated',
      evidence: 'Evidence',
      escalate_overdue: 'Escalated when overdue',
    },
    role: {
      duty_officer: 'duty officer',
      admin: 'admin',
      grid_worker: 'grid worker',
      grid_chief: 'grid chief',
      integrator: 'integrator',
      system: 'system',
    },
    error: {},
    event: {},
  },
};

/** The incident states, in the lifecycle's order: the state filter's options. */
export const stateCodes = Object.keys(domain['zh-CN'].state);

export function language() {
  const chosen = localStorage.getItem(languageKey);
  return chosen !== null && chosen in languages ? chosen : 'zh-CN';
}

/** Switches the language and shows the page again in it (it reloads its state from the server, as on connect). */
export function setLanguage(code) {
  localStorage.setItem(languageKey, code);
  location.reload();
}

const table = () => (language() === 'en' ? en : zh);
const words = () => domain[language()];

/** The string for `key` with `{name}`s filled in; Chinese when the language lacks it, the key when both do. */
export function t(key, params = {}) {
  const template = table()[key] ?? zh[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (_match, name) =>
    name in params ? String(params[name]) : `{${name}}`,
  );
}

const word = (kind, code) => words()[kind]?.[code] ?? domain['zh-CN'][kind]?.[code];
export const stateLabel = (state) => word('state', state) ?? state;
export const severityLabel = (severity) => word('severity', severity) ?? severity;
export const categoryLabel = (category) => word('category', category) ?? category;
export const stageLabel = (stage) => word('stage', stage) ?? stage;
export const actionLabel = (action) => word('action', action) ?? action;
export const roleLabel = (role) => word('role', role) ?? role;

/** An audit entry's action (`incident.dispatch`) in words. */
export function auditLabel(action) {
  const [, verb] = /^incident\.(.+)$/.exec(action) ?? [];
  return verb === undefined ? action : actionLabel(verb);
}

/** A refusal from the server in words: its code translated in Chinese; in English the server's own message. */
export function errorLabel(error) {
  if (language() === 'en') return error.message;
  return (error.code && domain['zh-CN'].error[error.code]) ?? error.message;
}

/**
 * An incident's title: the rule's title is configuration, in whatever language its author wrote; the event types
 * the catalogue knows have their own words here. A storm is named by its grid.
 */
export function incidentTitle(incident) {
  if (incident.category === 'storm') return t('storm.title', { grid: incident.chain?.[0]?.name ?? '' });
  if (language() === 'en') return incident.title;
  return domain['zh-CN'].event[incident.event?.type] ?? incident.title;
}

let timeZone = 'Asia/Shanghai';
let formatter;
/** The deployment's time zone (the hub's `timezone`), which every date on the page is shown in. */
export function setTimeZone(zone) {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    timeZone = zone;
    formatter = undefined;
  } catch {
    // Not a zone this browser knows: the default stays.
  }
}

/** A date and time in the deployment's zone, 24-hour: 2026-12-07 20:15:03. */
export function time(iso) {
  if (!iso) return '—';
  formatter ??= new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  });
  const parts = Object.fromEntries(
    formatter.formatToParts(new Date(iso)).map((part) => [part.type, part.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
}

/** Today's date in the deployment's zone, `YYYY-MM-DD`, and the first of its month. */
export function today(now = new Date()) {
  return time(now.toISOString()).slice(0, 10);
}

/** A duration in words, to the second under an hour: 4分32秒, 1小时05分. */
export function duration(ms) {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return t('duration.hms', { h, m: String(m).padStart(2, '0') });
  if (m > 0) return t('duration.ms', { m, s: String(s).padStart(2, '0') });
  return t('duration.s', { s });
}

/** A select for the language, for each page's header. */
export function languageSwitch(el) {
  const select = el(
    'select',
    { id: 'language', 'aria-label': t('language'), onchange: (event) => setLanguage(event.target.value) },
    ...Object.entries(languages).map(([code, name]) => el('option', { value: code }, name)),
  );
  select.value = language();
  return select;
}

document.documentElement.lang = language();

/**
 * The instant a `YYYY-MM-DD` day starts in the deployment's zone (epoch ms): the zone's offset at that day's UTC
 * midnight, read back through the formatter (no zone in China changes its offset; elsewhere a change on that very
 * night shifts the boundary by that hour at most).
 */
export function zonedMidnight(date) {
  const utcMidnight = Date.parse(`${date}T00:00:00Z`);
  const shownThere = Date.parse(`${time(new Date(utcMidnight).toISOString()).replace(' ', 'T')}Z`);
  return utcMidnight - (shownThere - utcMidnight);
}
