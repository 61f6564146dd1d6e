# frozen_string_literal: true

# Producer transactions through this gem's model (AsyncTaskCluster::BaseAttempt, reached as the async_task gem's
# AsyncTask::BaseAttempt), for Tests/ClusterTests/RailsClusterTests.swift. Prints one JSON object of what it did.
#
#   DATABASE_URL=… ASYNCTASK_KEY_K1=<base64 32 bytes> ruby library_app.rb produce | fence | adopted LATER_ID
#   ruby library_app.rb verify BODY HEADER SECRET
$LOAD_PATH.unshift(File.expand_path('../lib', __dir__))
require 'async_task_cluster'
require_relative 'wait_for'
$stdout.sync = true

ActiveRecord::Base.establish_connection(ENV.fetch('DATABASE_URL')) if ENV['DATABASE_URL']
ActiveRecord::Base.logger = nil

module AsyncTask
  class Attempt < ActiveRecord::Base
    include AsyncTask::BaseAttempt # the gem's model, unchanged: the constant is this library's concern
  end

  class SealedAttempt < ActiveRecord::Base
    include AsyncTaskCluster::BaseAttempt
    self.async_task_encryptor = AsyncTaskCluster::AesGcmEncryptor.new(primary: 'k1', keys: { 'k1' => ENV.fetch('ASYNCTASK_KEY_K1', '') }) if ENV['ASYNCTASK_KEY_K1']
  end
end

class OrderClient; end

def produce
  out = { committed: {}, rolled_back: [], errors: {} }
  record = ->(attempt, number) { out[:committed][attempt.id.to_s] = number }
  create = lambda do |number, **extra|
    AsyncTask::Attempt.create!(target: OrderClient, method_name: :fulfill,
                               method_args: { customer_token: "c_#{number}", order_number: number, placed_at: Time.utc(2026, 12, 2) }, **extra)
  end

  AsyncTask::Attempt.transaction { record.call(create.call(1, idempotence_token: 'order-1'), 1) }
  AsyncTask::Attempt.transaction do
    create.call(2)
    raise ActiveRecord::Rollback
  end
  out[:rolled_back] << 2
  AsyncTask::Attempt.transaction do
    record.call(create.call(3), 3)
    AsyncTask::Attempt.transaction(requires_new: true) do
      create.call(4)
      raise ActiveRecord::Rollback
    end
    out[:rolled_back] << 4
    # The same token again, inside a savepoint: the duplicate is refused and the outer transaction goes on.
    begin
      AsyncTask::Attempt.transaction(requires_new: true) { create.call(5, idempotence_token: 'order-1') }
    rescue ActiveRecord::RecordNotUnique
      out[:duplicate_refused] = true
    end
    out[:rolled_back] << 5
    record.call(create.call(6, priority: -5, max_attempts: 2), 6)
  end
  scheduled = create.call(7, scheduled_at: 2.seconds.from_now)
  record.call(scheduled, 7)
  out[:scheduled] = scheduled.id
  sealed = AsyncTask::SealedAttempt.create!(target: 'OrderClient', method_name: 'fulfill', method_args: { order_number: 8, secret: 's3cr3t' })
  record.call(sealed, 8)
  out[:sealed] = sealed.id
  out[:sealed_encryptor] = sealed.reload.encryptor
  out[:sealed_reads_back] = sealed.method_args
  out[:sealed_stored_has_plaintext] = sealed.read_attribute_before_type_cast('method_args').to_s.include?('s3cr3t')

  # Operator actions with the cluster's rules.
  expired = create.call(9)
  expired.expire!
  out[:expired] = [expired.id, expired.status, expired.expired?, AsyncTask::Attempt.expired.where(id: expired.id).exists?]
  begin
    expired.fail!('too late')
  rescue AsyncTask::InvalidStateError => e
    out[:errors][:fail_expired] = e.message
  end
  failed = create.call(10)
  failed.fail!('cancelled by support')
  out[:failed] = [failed.id, failed.status, failed.last_error]
  retried = create.call(11)
  retried.expire!
  retried.retry!
  record.call(retried, 11)
  out[:retried] = [retried.id, retried.status, retried.max_attempts]
  begin
    create.call(12, method_args: [1, 2])
  rescue ActiveRecord::RecordInvalid => e
    out[:errors][:array_args] = e.message
  end
  # Ordered keys: two attempts of one key (they run in id order), and a key too long for the column.
  ordered = [13, 14].map { |number| create.call(number, ordering_key: 'order-77') }
  ordered.each_with_index { |attempt, index| record.call(attempt, 13 + index) }
  out[:ordered] = ordered.map(&:id)
  begin
    create.call(15, ordering_key: 'k' * 256)
  rescue ActiveRecord::RecordInvalid => e
    out[:errors][:long_key] = e.message
  end
  # Fairness per key: an attempt with a concurrency key, and one too long for the column.
  keyed = create.call(16, concurrency_key: 'tenant-9')
  record.call(keyed, 16)
  out[:concurrency_keyed] = keyed.id
  begin
    create.call(17, concurrency_key: 'c' * 300)
  rescue ActiveRecord::RecordInvalid => e
    out[:errors][:long_concurrency_key] = e.message
  end
  out[:plain_args] = AsyncTask::Attempt.find(out[:committed].keys.first).method_args
  puts JSON.generate(out)
end

def row_state(id)
  row = AsyncTask::Attempt.find(id)
  [row.status, row.locked_by, !row.completed_at.nil?, row.last_error]
end

# The library's expire!/fail! on rows a node holds (leased, the call in flight: the target waits 4 s). Four rows:
# the library expires and fails the first two; the test does the same to the other two with the CLI and compares.
def fence
  rows = (1..4).map do |n|
    AsyncTask::Attempt.create!(target: OrderClient, method_name: :fulfill, method_args: { order_number: 500_000 + n, _delay_ms: 4000 })
  end
  wait_for('the node to lease all four') { AsyncTask::Attempt.where(id: rows.map(&:id)).where.not(locked_by: nil).count == rows.size }
  library_expired, library_failed, cli_expired, cli_failed = rows
  library_expired.expire!
  library_failed.fail!('stopped by support')
  puts JSON.generate(
    library_expired: library_expired.id, library_failed: library_failed.id, cli_expired: cli_expired.id, cli_failed: cli_failed.id,
    after_expire: row_state(library_expired.id), after_fail: row_state(library_failed.id)
  )
end

# On a table adopted from the gem (text method_args, its CHECKs, lock_version, YAML rows the unchanged gem goes on
# writing): the library's rows run, the gem's rows read back, and expire!/fail!/retry! keep the cluster's rules.
# LATER_ID: a pending row the unchanged gem inserted after the adoption, scheduled a day ahead.
def adopted(later_id)
  out = { errors: {} }
  out[:column_type] = AsyncTask::Attempt.columns_hash['method_args'].sql_type
  created = AsyncTask::Attempt.create!(target: OrderClient, method_name: :fulfill, idempotence_token: 'library-400001',
                                       method_args: { customer_token: 'c_400001', order_number: 400_001, tags: [:rush, 'gift'] })
  out[:created] = created.id
  created.reload
  out[:created_stored] = created.read_attribute_before_type_cast('method_args')
  out[:created_encryptor] = created.encryptor
  out[:created_reads_back] = created.method_args
  begin
    AsyncTask::Attempt.transaction(requires_new: true) do
      AsyncTask::Attempt.create!(target: OrderClient, method_name: :fulfill, idempotence_token: 'library-400001', method_args: { order_number: 400_009 })
    end
  rescue ActiveRecord::RecordNotUnique
    out[:duplicate_refused] = true
  end
  sealed = AsyncTask::SealedAttempt.create!(target: 'OrderClient', method_name: 'fulfill', method_args: { order_number: 400_002, secret: 's3cr3t' })
  out[:sealed] = sealed.id
  out[:sealed_encryptor] = sealed.reload.encryptor
  # The adopted table's CHECK holds for a producer that goes around the model's validation too.
  begin
    AsyncTask::Attempt.insert_all([{ target: 'OrderClient', method_name: 'fulfill', method_args: '[1]', status: 'pending' }])
    out[:errors][:array_insert] = 'inserted'
  rescue ActiveRecord::StatementInvalid => e
    out[:errors][:array_insert] = e.message.lines.first.strip
  end
  later = AsyncTask::Attempt.find(later_id)
  out[:later_encryptor] = later.encryptor
  out[:later_args] = later.method_args
  lock_version = later.lock_version
  later.expire!
  out[:later_expired] = [later.status, later.expired?, AsyncTask::Attempt.expired.where(id: later_id).exists?, later.lock_version > lock_version]
  begin
    later.fail!('too late')
  rescue AsyncTask::InvalidStateError => e
    out[:errors][:fail_expired] = e.message
  end
  later.retry!
  out[:later_retried] = [later.status, later.max_attempts, later.num_attempts]
  puts JSON.generate(out)
end

def verify(body, header, secret)
  event = AsyncTaskCluster::Webhook.verify!(body, header, [secret])
  puts JSON.generate(verified: event['event'])
rescue AsyncTaskCluster::Webhook::SignatureError => e
  puts JSON.generate(refused: e.message)
  exit 3
end

case ARGV[0]
when 'produce' then produce
when 'fence' then fence
when 'adopted' then adopted(Integer(ARGV.fetch(1)))
when 'verify' then verify(ARGV.fetch(1), ARGV.fetch(2), ARGV.fetch(3))
else abort 'usage: library_app.rb produce | fence | adopted LATER_ID | verify BODY HEADER SECRET'
end
