# frozen_string_literal: true

# A Rails-style application that writes attempts exactly the way the unchanged async_task gem (v0.0.1) does,
# for the cluster's adoption tests (Tests/ClusterTests/RailsClusterTests.swift). Written from the gem's
# documented behaviour, not its code: the gem's migration columns, `enumerize :status`, `serialize :method_args`
# over a writer storing `encryptor.encrypt(args.to_yaml)`, lock_version optimistic locking, and expire!/fail!
# as `with_lock { raise unless pending?; update!(status:, completed_at:) }`.
#
#   DATABASE_URL=postgres://… ruby gem_app.rb create-table | seed | loop STOPFILE | insert N | insert-later | fence
require 'json'
require 'active_record'
require 'enumerize'
require_relative 'wait_for'

ActiveRecord::Base.establish_connection(ENV.fetch('DATABASE_URL'))
ActiveRecord::Base.logger = nil
$stdout.sync = true

module AsyncTask
  class InvalidStateError < StandardError; end

  module NullEncryptor
    module_function

    def encrypt(content) = content
    def decrypt(content) = content
  end
end

# An encryptor module of the application's own, which the cluster cannot run.
module AppVault
  module_function

  def encrypt(content) = content.reverse
  def decrypt(content) = content.reverse
end

class OrderClient; end

class GemAttempt < ActiveRecord::Base
  extend Enumerize
  self.table_name = 'async_task_attempts'

  serialize :method_args
  enumerize :status, in: %i[pending succeeded failed expired], predicates: true

  before_create do
    self.target = target.to_s
    self.status ||= 'pending'
    self.encryptor = (encryptor.presence || AsyncTask::NullEncryptor).to_s
  end

  def method_args=(args)
    super(encryptor.constantize.encrypt(args.to_yaml))
  end

  def gem_expire!
    with_lock do
      raise AsyncTask::InvalidStateError unless pending?

      update!(status: 'expired', completed_at: Time.current)
    end
  end

  def gem_fail!
    with_lock do
      raise AsyncTask::InvalidStateError unless pending?

      update!(status: 'failed', completed_at: Time.current)
    end
  end

  # The gem's producer call (its factory passes the encryptor first: the writer above needs it).
  def self.gem_create!(order_number, encryptor: AsyncTask::NullEncryptor, **extra)
    args = { customer_token: "c_#{order_number}", order_number: order_number }.merge(extra.delete(:args) || {})
    create!(encryptor: encryptor, target: OrderClient, method_name: :fulfill, method_args: args, **extra)
  end
end

# The gem's migration is an ActiveRecord::Migration[5.1]: bigint id and timestamps without precision, whatever
# the Rails version that runs it.
class CreateAsyncTaskAttempts < ActiveRecord::Migration[5.1]
  def change
    create_table :async_task_attempts do |t|
      t.integer :lock_version, null: false, default: 0
      t.string :idempotence_token
      t.string :status, null: false
      t.string :target, null: false
      t.string :method_name, null: false
      t.text :method_args
      t.string :encryptor, null: false
      t.integer :num_attempts, null: false, default: 0
      t.datetime :scheduled_at
      t.datetime :completed_at
      t.timestamps null: false
      t.index :status
      t.index %i[target method_name idempotence_token], unique: true, name: 'index_async_tasks_on_target_method_name_and_idempotence_token'
      t.index :scheduled_at
      t.index :completed_at
      t.index :created_at
      t.index :updated_at
    end
  end
end

def create_gem_table
  ActiveRecord::Migration.verbose = false
  CreateAsyncTaskAttempts.migrate(:up)
  puts JSON.generate(created: true)
end

# Rows of every kind the gem leaves behind.
def seed
  out = {}
  out[:pending] = (1..20).map { |n| GemAttempt.gem_create!(n, idempotence_token: "order-#{n}").id }
  retried = GemAttempt.gem_create!(21)
  retried.update_columns(num_attempts: 3)
  out[:pending] << retried.id
  out[:retried] = retried.id
  out[:scheduled_past] = GemAttempt.gem_create!(22, scheduled_at: 1.minute.ago).id
  out[:pending] << out[:scheduled_past]
  out[:scheduled_future] = GemAttempt.gem_create!(23, scheduled_at: 1.hour.from_now).id
  out[:dated] = GemAttempt.gem_create!(24, args: { placed_on: Date.new(2026, 12, 2), at: Time.utc(2026, 12, 2, 1, 15, 56.5), state: :new, _status: 200 }).id
  out[:pending] << out[:dated]
  out[:no_args] = GemAttempt.create!(encryptor: AsyncTask::NullEncryptor, target: OrderClient, method_name: :ping).id
  succeeded = GemAttempt.gem_create!(25)
  succeeded.update!(status: 'succeeded', completed_at: Time.utc(2026, 1, 2, 3, 4, 5))
  out[:succeeded] = succeeded.id
  failed = GemAttempt.gem_create!(26)
  failed.gem_fail!
  out[:failed] = failed.id
  out[:vault] = GemAttempt.gem_create!(27, encryptor: AppVault).id
  out[:bigdecimal] = GemAttempt.gem_create!(28, args: { amount: BigDecimal('12.5') }).id
  # The gem never gives up on a row: one it tried 12 times (the cluster's default max_attempts) is still pending.
  exhausted = GemAttempt.gem_create!(29)
  exhausted.update_columns(num_attempts: 12)
  out[:exhausted] = exhausted.id
  puts JSON.generate(out)
end

# Boots (caching the table's columns as they are now), then inserts the gem's way in transactions until
# STOPFILE appears: committed rows, rolled-back ones, and nested savepoints rolled back inside committed ones.
def insert_loop(stop_file)
  GemAttempt.columns
  GemAttempt.first
  puts "booted #{GemAttempt.columns_hash['method_args'].sql_type}"
  n = 100_000
  until File.exist?(stop_file)
    n += 1
    begin
      case n % 5
      when 0
        GemAttempt.transaction do
          GemAttempt.gem_create!(n)
          raise ActiveRecord::Rollback
        end
        puts "rolledback #{n}"
      when 1
        id = nil
        GemAttempt.transaction do
          id = GemAttempt.gem_create!(n).id
          GemAttempt.transaction(requires_new: true) do
            GemAttempt.gem_create!(n + 500_000)
            raise ActiveRecord::Rollback
          end
        end
        puts "rolledback #{n + 500_000}"
        puts "ok #{id} #{n}"
      else
        id = GemAttempt.transaction { GemAttempt.gem_create!(n, idempotence_token: "loop-#{n}").id }
        puts "ok #{id} #{n}"
      end
    rescue StandardError => e
      puts "error #{n} #{e.class}: #{e.message.lines.first&.strip}"
    end
    sleep 0.01
  end
  puts 'done'
end

def insert(count)
  GemAttempt.columns
  puts "booted #{GemAttempt.columns_hash['method_args'].sql_type}"
  ids = (1..count).map { |i| GemAttempt.transaction { GemAttempt.gem_create!(200_000 + i).id } }
  puts JSON.generate(ids: ids)
end

# A row the unchanged gem inserts after the adoption, not due for a day (the library's test expires it).
def insert_later
  puts JSON.generate(id: GemAttempt.transaction { GemAttempt.gem_create!(300_003, scheduled_at: 1.day.from_now).id })
end

# The gem's fail!/expire! and a stale model against rows a node holds (the target answers slowly).
def fence
  held = GemAttempt.gem_create!(300_001)
  stale = GemAttempt.gem_create!(300_002)
  leased = ->(id) { GemAttempt.connection.select_value("SELECT locked_by IS NOT NULL FROM async_task_attempts WHERE id = #{Integer(id)}") }
  wait_for('leases') { leased.call(held.id) && leased.call(stale.id) }
  out = { held: held.id, stale: stale.id }
  held.reload.gem_fail!
  out[:held_status] = held.reload.status
  out[:held_locked_by] = GemAttempt.connection.select_value("SELECT locked_by FROM async_task_attempts WHERE id = #{held.id}")
  loaded = GemAttempt.find(stale.id)
  wait_for('the node to record an outcome') { GemAttempt.where(id: stale.id).pick(:status) != 'pending' }
  begin
    loaded.update!(status: 'expired', completed_at: Time.current)
    out[:stale_update] = 'applied'
  rescue ActiveRecord::StaleObjectError => e
    out[:stale_update] = e.class.name
  end
  begin
    loaded.reload.gem_expire!
    out[:expire_after] = 'applied'
  rescue AsyncTask::InvalidStateError => e
    out[:expire_after] = e.class.name
  end
  puts JSON.generate(out)
end

case ARGV[0]
when 'create-table' then create_gem_table
when 'seed' then seed
when 'loop' then insert_loop(ARGV.fetch(1))
when 'insert' then insert(Integer(ARGV.fetch(1)))
when 'insert-later' then insert_later
when 'fence' then fence
else abort "usage: gem_app.rb create-table|seed|loop STOPFILE|insert N|insert-later|fence"
end
